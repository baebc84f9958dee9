"""The report's SVG charts on real data (Frankenstein's words and line lengths): well-formed XML, every label
plain escaped text, long labels cut with their full text as a tooltip, and empty, NaN, infinite, zero and
negative inputs drawn without error (and never as a coordinate)."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from curate.svgplot import MAX_POINTS, TICK_CHARS, Line, Scale, bar_chart, histogram, line_chart

NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def book(corpus: Path) -> str:
    return (corpus / "books" / "pg84.txt").read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def words(book: str) -> list[tuple[str, int]]:
    """Frankenstein's 12 most frequent words and their counts."""
    return Counter(re.findall(r"[a-z]+", book.lower())).most_common(12)


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything not well-formed XML
    assert root.tag == f"{NS}svg"
    return root


def _bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]


def _texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{NS}text")]


def _numbers(svg: str) -> list[float]:
    """Every numeric attribute value and point coordinate of the chart."""
    values = re.findall(r'(?<![\w-])(?:x|y|x1|x2|y1|y2|cx|cy|width|height|points)="([^"]*)"', svg)
    numbers = [float(v) for s in values if "%" not in s for v in re.split(r"[ ,]+", s) if v]
    assert numbers
    return numbers


def test_bars_stack_by_series_and_stay_inside_the_chart(words):
    labels = [w for w, _ in words]
    counts = [n for _, n in words]
    halves = [("first half", [n // 2 for n in counts]), ("second half", [n - n // 2 for n in counts])]
    svg = bar_chart(labels, halves, title="Frankenstein's commonest words", ylabel="occurrences")
    root = _parse(svg)
    bars = _bars(root)
    assert len(bars) == 2 * len(labels)
    width, height = float(root.get("width")), float(root.get("height"))
    assert all(0 <= float(b.get("x")) and float(b.get("x")) + float(b.get("width")) <= width for b in bars)
    assert all(0 <= float(b.get("y")) and float(b.get("y")) + float(b.get("height")) <= height for b in bars)
    # a stack's two bars meet, and the tallest stack is the most frequent word's
    first, second = bars[0::2], bars[1::2]  # drawn label by label, bottom up
    for a, b in zip(first, second):
        assert float(b.get("y")) + float(b.get("height")) == pytest.approx(float(a.get("y")), abs=0.11)
    tops = [float(b.get("y")) for b in second]
    assert tops.index(min(tops)) == counts.index(max(counts))
    texts = _texts(root)
    assert set(labels) <= set(texts) and {"first half", "second half", "occurrences"} <= set(texts)
    assert "Frankenstein's commonest words" in texts


def test_log_bars_show_every_positive_value(words):
    labels = [w for w, _ in words] + ["frankenstein"]
    counts = [n for _, n in words] + [1]  # one bar of 1 beside thousands
    root = _parse(bar_chart(labels, [("", counts)], log=True, ylabel="documents (log scale)"))
    assert all(float(b.get("height")) >= 1 for b in _bars(root)) and len(_bars(root)) == len(labels)
    ticks = Scale(0.5, max(counts) * 2, True, 0, 1).ticks()
    assert ticks and all(math.log10(t).is_integer() for t in ticks)


def test_labels_are_escaped_text_never_markup_or_math(words):
    word = words[0][0]
    hostile = [f"<script>{word}</script>", f"${word}$", f"\\frac{{{word}", f"{word}\x1b[31m", f"\u202e{word}&amp;"]
    svg = bar_chart(hostile, [(h, [n]) for h, (_, n) in zip(hostile, words)], title=hostile[0], ylabel=hostile[1])
    root = _parse(svg)
    assert "<script>" not in svg and "\x1b" not in svg and "\u202e" not in svg
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    texts = _texts(root)
    for h in hostile[:3]:
        assert h in texts  # shown as the text it is
    assert f"{word}\\x1b[31m" in texts and f"\\u202e{word}&amp;" in texts  # controls shown as escapes


def test_long_labels_are_cut_with_an_ellipsis_and_keep_their_text_as_a_tooltip(book, words):
    long = max(book.splitlines(), key=len).strip()
    assert len(long) > 60
    root = _parse(bar_chart([long, words[0][0]], [(long, [3, words[0][1]])], title=long))
    shown = [t for t in _texts(root) if t.endswith("…")]
    assert len(shown) == 3  # the title, the legend entry and the tick label
    assert all(long.startswith(t[:-1]) for t in shown)
    assert min(len(t) for t in shown) <= TICK_CHARS
    tips = ["".join(t.itertext()) for t in root.iter(f"{NS}title")]
    assert tips.count(long) >= 3


def test_empty_data_is_a_chart_saying_so():
    for svg in (
        bar_chart([], [], title="nothing"),
        bar_chart([], [("docs", [])]),
        histogram([], []),
        histogram([0.5], [("kept", [])]),
        line_chart([]),
        line_chart([Line("train", [], [])]),
    ):
        root = _parse(svg)
        assert "no data" in _texts(root) and not _bars(root)


def test_nan_inf_zero_and_negative_values_are_not_drawn_as_coordinates(words):
    labels = [w for w, _ in words[:6]]
    values = [math.nan, math.inf, -math.inf, -float(words[5][1]), 0.0, float(words[4][1])]
    linear = bar_chart(labels, [("", values)])
    log = bar_chart(labels, [("", values)], log=True)
    assert len(_bars(_parse(linear))) == 2  # the negative and the positive value
    assert len(_bars(_parse(log))) == 1  # a log axis has no place for <= 0
    one = bar_chart(labels[:1], [("", values[-1:])])
    assert len(_bars(_parse(one))) == 1
    for svg in (linear, log, one, bar_chart(labels, [("", [math.nan] * 6)])):
        assert all(math.isfinite(v) for v in _numbers(svg))


def test_histogram_on_log_bins_with_a_curve_and_damaged_counts(book):
    lengths = [len(line) for line in book.splitlines() if line]
    edges = [10 ** (i / 4) for i in range(13)]  # 1 .. 1000 characters, 4 bins a decade
    counts = [sum(lo <= n < hi for n in lengths) for lo, hi in zip(edges, edges[1:])]
    xs = edges
    share = [sum(n < x for n in lengths) / len(lengths) for x in xs]
    curve = Line("share of lines shorter", xs, share)
    svg = histogram(edges, [("lines", counts)], log_x=True, curve=curve, xlabel="characters (log scale)")
    root = _parse(svg)
    assert len(_bars(root)) == sum(1 for c in counts if c)
    assert len(list(root.iter(f"{NS}polyline"))) == 1
    assert {"1", "10", "100", "1,000"} <= set(_texts(root))  # decade ticks
    damaged = histogram([0.0, *edges[1:]], [("lines", [math.nan, *counts[1:-1], math.inf])], log_x=True, curve=curve)
    assert all(math.isfinite(v) for v in _numbers(damaged))
    assert len(_bars(_parse(damaged))) == sum(1 for c in counts[1:-1] if c)


def test_line_chart_breaks_at_non_finite_points_and_bounds_its_size(book):
    lengths = [float(len(line)) for line in book.splitlines()]
    steps = list(range(len(lengths)))
    assert len(steps) > 2 * MAX_POINTS
    root = _parse(line_chart([Line("line length", steps, lengths)], xlabel="line", ylabel="characters"))
    (poly,) = root.iter(f"{NS}polyline")
    assert len(poly.get("points").split()) <= MAX_POINTS + 1
    damaged = lengths[:40]
    damaged[10], damaged[20] = math.nan, math.inf
    svg = line_chart(
        [Line("line length", steps[:40], damaged), Line("every 10th", steps[:40:10], damaged[:40:10], True)]
    )
    root = _parse(svg)
    # the first line in three runs; the second's two finite points are apart: markers (and the legend's), no line
    assert len(list(root.iter(f"{NS}polyline"))) == 3
    assert len(list(root.iter(f"{NS}circle"))) == 3
    assert all(math.isfinite(v) for v in _numbers(svg))
    lone = _parse(line_chart([Line("line length", steps[:1], lengths[:1])]))  # a one-step trainer run
    assert len(list(lone.iter(f"{NS}circle"))) == 1 and not list(lone.iter(f"{NS}polyline"))
