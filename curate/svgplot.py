"""Inline SVG charts for ``report.html``: stacked vertical bars, a histogram over given bin edges (with an
optional curve on a 0-1 right-hand axis) and a line chart, each with ticked axes, labels, a title and a legend.

Written here rather than drawn with a plotting library: importing and rendering with matplotlib cost a run
~1.3 s of driver CPU for five simple figures. Every piece of text is plain, escaped text (a source named
``<script>`` or ``$x$`` is a name); control characters are shown as escapes; a label longer than its room is
cut with an ellipsis and keeps its full text in a ``<title>`` tooltip. Values that are NaN or infinite are not
drawn, nor are values <= 0 on a log axis; empty data gives a chart saying so.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from curate.termsafe import terminal_safe

# matplotlib's tab20 order: the ten tab10 colours first, then their light variants
COLORS = (
    "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf "
    "#aec7e8 #ffbb78 #98df8a #ff9896 #c5b0d5 #c49c94 #f7b6d2 #c7c7c7 #dbdb8d #9edae5"
).split()
FONT = 11  # px, tick labels and legend; titles are 13
CHAR_W = 0.6 * FONT  # mean width of a sans-serif character, to lay out before any renderer measures
TICK_CHARS = 24  # category labels under the x axis are cut after this many characters
LEGEND_CHARS = 40
MAX_POINTS = 2000  # a longer line is drawn from every k-th point (and the last)


@dataclass(frozen=True)
class Line:
    """One line of a line chart (or the curve of a histogram): points, a legend name, markers or not."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    markers: bool = False
    width: float = 1.5


def esc(text: object) -> str:
    """``text`` as SVG/HTML text: control characters escaped, markup characters as entities."""
    return html.escape(terminal_safe(str(text), lines=False))


def _finite(v: object) -> float | None:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def number(v: float) -> str:
    """A tick or tooltip value: integers with thousands separators, others to 3 significant digits."""
    if v == 0:
        return "0"
    if abs(v) >= 1e7 or abs(v) < 1e-3:
        mant, exp = f"{v:.1e}".split("e")
        return f"{mant.removesuffix('.0')}e{int(exp)}"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:.3g}"


def _text(x: float, y: float, text: str, limit: int, attrs: str = "") -> str:
    """An SVG ``<text>``, cut to ``limit`` characters with an ellipsis and the whole text as a tooltip."""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    node = f'<text x="{x:.1f}" y="{y:.1f}"{attrs}>{esc(shown)}</text>'
    return node if shown == text else f"<g><title>{esc(text)}</title>{node}</g>"


def _width(text: str, limit: int) -> float:
    return min(len(text), limit) * CHAR_W


@dataclass(frozen=True)
class Scale:
    """Data values ``lo..hi`` to pixels ``a..b``, linear or logarithmic; values outside are clamped."""

    lo: float
    hi: float
    log: bool
    a: float
    b: float

    def __call__(self, v: float) -> float:
        if self.log:
            v = math.log10(max(v, self.lo))
            lo, hi = math.log10(self.lo), math.log10(self.hi)
        else:
            lo, hi = self.lo, self.hi
        t = min(max((v - lo) / (hi - lo), 0.0), 1.0) if hi != lo else 0.5
        return self.a + t * (self.b - self.a)

    def ticks(self) -> list[float]:
        if self.log:
            first, last = math.ceil(math.log10(self.lo) - 1e-9), math.floor(math.log10(self.hi) + 1e-9)
            step = max(1, math.ceil((last - first + 1) / 8))
            out = [10.0**k for k in range(first, last + 1, step)]
            if len(out) < 2:  # less than a decade shown: 2x and 5x ticks too
                out = sorted(m * 10.0**k for k in range(first - 1, last + 1) for m in (1, 2, 5))
                out = [v for v in out if self.lo <= v <= self.hi]
            return out
        raw = (self.hi - self.lo) / 5
        mag = 10.0 ** math.floor(math.log10(raw))
        step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
        k = math.ceil(self.lo / step - 1e-9)
        return [k * step + i * step for i in range(int((self.hi - k * step) / step + 1e-9) + 1)]


def _domain(values: Sequence[float], log: bool, zero: bool = True) -> tuple[float, float]:
    """An axis range holding ``values`` (and 0 when ``zero``, for bars) with a margin."""
    xs = [v for v in values if v is not None and (v > 0 or not log)]
    if log:
        if not xs:
            return 0.5, 10.0
        return min(0.5, min(xs) / 2), max(xs) * 2
    lo, hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        lo, hi = (lo - 1, hi + 1) if not zero else (lo, hi + 1)
    pad = 0.05 * (hi - lo)
    return (lo - pad if lo < 0 or not zero else lo), (hi + pad if hi > 0 or not zero else hi)


@dataclass
class _Frame:
    """A chart's canvas: size, plot area and the title, axis labels and legend around it."""

    width: float
    height: float
    title: str
    xlabel: str
    ylabel: str
    legend: list[tuple[str, str, str]]  # name, colour, "rect" / "line" / "marker"
    ytick_w: float
    right_w: float = 0.0  # tick labels of a right-hand axis
    xtick_h: float = 16.0

    @property
    def left(self) -> float:
        return 10 + (16 if self.ylabel else 0) + self.ytick_w + 6

    @property
    def legend_w(self) -> float:
        return max((_width(n, LEGEND_CHARS) + 30 for n, _, _ in self.legend), default=0)

    @property
    def right(self) -> float:
        return self.width - 10 - self.legend_w - (self.right_w + 6 if self.right_w else 0)

    @property
    def top(self) -> float:
        return 28 if self.title else 10

    @property
    def bottom(self) -> float:
        return self.height - 6 - (16 if self.xlabel else 0) - self.xtick_h

    def svg(self, body: list[str]) -> str:
        h = max(self.height, self.top + 14 * len(self.legend) + 10)
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width:.0f}" height="{h:.0f}" '
            f'viewBox="0 0 {self.width:.0f} {h:.0f}" font-family="sans-serif" font-size="{FONT}" role="img" '
            f'aria-label="{esc(self.title or self.ylabel)}"><rect width="100%" height="100%" fill="#fff"/>'
        ]
        if self.title:
            fits = int((self.width - 20) / (13 * 0.6))
            out.append(_text(self.width / 2, 17, self.title, fits, ' text-anchor="middle" font-size="13"'))
        mid_x, mid_y = (self.left + self.right) / 2, (self.top + self.bottom) / 2
        if self.xlabel:
            fits = int((self.right - self.left) / CHAR_W)
            out.append(_text(mid_x, self.height - 8, self.xlabel, fits, ' text-anchor="middle"'))
        if self.ylabel:
            fits, rotate = int((self.bottom - self.top) / CHAR_W), f' transform="rotate(-90 14 {mid_y:.1f})"'
            out.append(_text(14, mid_y, self.ylabel, fits, ' text-anchor="middle"' + rotate))
        out += body
        out.append(
            f'<rect x="{self.left:.1f}" y="{self.top:.1f}" width="{self.right - self.left:.1f}" '
            f'height="{self.bottom - self.top:.1f}" fill="none" stroke="#333"/>'
        )
        x = self.width - 4 - self.legend_w
        for i, (name, color, kind) in enumerate(self.legend):
            y = self.top + 6 + 14 * i
            if kind == "rect":
                out.append(f'<rect x="{x:.1f}" y="{y - 4:.1f}" width="14" height="9" fill="{color}"/>')
            else:
                out.append(
                    f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 14:.1f}" y2="{y:.1f}" stroke="{color}" stroke-width="2"/>'
                )
            if kind == "marker":
                out.append(f'<circle cx="{x + 7:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>')
            out.append(_text(x + 20, y + 4, name, LEGEND_CHARS))
        return "".join(out + ["</svg>"])

    def empty(self) -> str:
        mid = f'x="{self.width / 2:.1f}" y="{(self.top + self.bottom) / 2:.1f}"'
        return self.svg([f'<text {mid} text-anchor="middle" fill="#666">no data</text>'])


def _yaxis(f: _Frame, sy: Scale, x: float, side: int) -> list[str]:
    """Ticks and labels of a y axis at ``x`` (``side`` -1: labels to its left), grid lines for the left one."""
    out = []
    for v in sy.ticks():
        y = sy(v)
        if side < 0:
            out.append(f'<line x1="{f.left:.1f}" y1="{y:.1f}" x2="{f.right:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 4 * side:.1f}" y2="{y:.1f}" stroke="#333"/>')
        anchor = "end" if side < 0 else "start"
        out.append(f'<text x="{x + 6 * side:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}">{number(v)}</text>')
    return out


def _xticks(f: _Frame, sx: Scale) -> list[str]:
    out = []
    for v in sx.ticks():
        x = sx(v)
        out.append(f'<line x1="{x:.1f}" y1="{f.bottom:.1f}" x2="{x:.1f}" y2="{f.bottom + 4:.1f}" stroke="#333"/>')
        out.append(f'<text x="{x:.1f}" y="{f.bottom + 15:.1f}" text-anchor="middle">{number(v)}</text>')
    return out


def _tick_w(sy: Scale) -> float:
    return max((len(number(v)) for v in sy.ticks()), default=1) * CHAR_W


def _bar(x: float, w: float, y1: float, y2: float, color: str, tip: str) -> str:
    top, h = min(y1, y2), abs(y1 - y2)
    return (
        f'<rect class="bar" x="{x:.1f}" y="{top:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{color}">'
        f"<title>{esc(tip)}</title></rect>"
    )


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def _legend(series: Sequence[tuple[str, Sequence[float]]]) -> list[tuple[str, str, str]]:
    """Legend entries of bar series: a named series' colour swatch."""
    return [(name, _color(i), "rect") for i, (name, _) in enumerate(series) if name]


def _stack(series: Sequence[tuple[str, Sequence[float]]], n: int) -> list[list[tuple[float, float]]]:
    """Per series, per position: (bottom, top) of its stacked bar; NaN/inf counts as nothing."""
    base = [0.0] * n
    out = []
    for _, vals in series:
        spans = []
        for i in range(n):
            v = _finite(vals[i]) if i < len(vals) else None
            spans.append((base[i], base[i] + (v or 0.0)))
            base[i] += v or 0.0
        out.append(spans)
    return out


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    log: bool = False,
    width: float = 720,
    height: float = 300,
) -> str:
    """One bar per label; several series are stacked (the first at the bottom) and named in a legend (a
    series named "" has no legend entry). ``log``: a log y axis, values <= 0 not drawn."""
    labels = [str(x) for x in labels]
    legend = _legend(series)
    spans = _stack(series, len(labels))
    sy = Scale(*_domain([v for s in spans for span in s for v in span], log), log, 0, 0)
    f = _Frame(width, height, title, xlabel, ylabel, legend, _tick_w(sy))
    if not labels or not series:
        return f.empty()
    slot = (f.right - f.left) / len(labels)
    label_w = max(_width(x, TICK_CHARS) for x in labels)
    rotate = label_w > slot - 4
    if rotate:
        f.xtick_h = 0.5 * label_w + 14
    sy = Scale(sy.lo, sy.hi, log, f.bottom, f.top)
    body = _yaxis(f, sy, f.left, -1)
    every = max(1, math.ceil(14 / slot)) if rotate else 1
    for i, label in enumerate(labels):
        x = f.left + i * slot
        for k, (name, _) in enumerate(series):
            lo, hi = spans[k][i]
            if hi == lo or (log and hi <= 0):
                continue
            tip = f"{label}{' · ' + name if name else ''}: {number(hi - lo)}"
            body.append(_bar(x + 0.1 * slot, 0.8 * slot, sy(lo), sy(hi), _color(k), tip))
        if i % every:
            continue
        cx, y = x + slot / 2, f.bottom + (12 if rotate else 15)
        attrs = f' text-anchor="end" transform="rotate(-30 {cx:.1f} {y:.1f})"' if rotate else ' text-anchor="middle"'
        body.append(_text(cx, y, label, TICK_CHARS, attrs))
    return f.svg(body)


def histogram(
    edges: Sequence[float],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    log_x: bool = False,
    curve: Line | None = None,
    curve_range: tuple[float, float] = (0.0, 1.05),
    width: float = 630,
    height: float = 300,
) -> str:
    """Counts per bin ``edges[i]..edges[i+1]``, several series stacked, on a linear or log x axis; ``curve``
    is drawn against a right-hand axis spanning ``curve_range``."""
    edges = [e for e in (_finite(x) for x in edges) if e is not None and (e > 0 or not log_x)]
    n = max(len(edges) - 1, 0)
    legend = _legend(series)
    legend += [(curve.name, "#000", "line")] if curve and curve.name else []
    spans = _stack(series, n)
    sy = Scale(*_domain([v for s in spans for span in s for v in span], False), False, 0, 0)
    sr = Scale(*curve_range, False, 0, 0) if curve else None
    f = _Frame(width, height, title, xlabel, ylabel, legend, _tick_w(sy), _tick_w(sr) if sr else 0.0)
    if not n or not series:
        return f.empty()
    sx = Scale(edges[0], edges[-1], log_x, f.left, f.right)
    sy = Scale(sy.lo, sy.hi, False, f.bottom, f.top)
    body = _yaxis(f, sy, f.left, -1) + _xticks(f, sx)
    for k, (name, _) in enumerate(series):
        for i in range(n):
            lo, hi = spans[k][i]
            if hi != lo:
                x0, x1 = sx(edges[i]), sx(edges[i + 1])
                tip = f"{number(edges[i])} to {number(edges[i + 1])}{' · ' + name if name else ''}: {number(hi - lo)}"
                body.append(_bar(x0, x1 - x0, sy(lo), sy(hi), _color(k), tip))
    if curve and sr:
        sr = Scale(sr.lo, sr.hi, False, f.bottom, f.top)
        body += _yaxis(f, sr, f.right, 1) + _polyline(curve, sx, sr, "#000")
    return f.svg(body)


def _polyline(line: Line, sx: Scale, sy: Scale, color: str) -> list[str]:
    """A line through the finite points in order (a non-finite point breaks it), markers where asked."""
    pts = [(_finite(x), _finite(y)) for x, y in zip(line.xs, line.ys)]
    step = max(1, math.ceil(len(pts) / MAX_POINTS))
    pts = pts[::step] + (pts[-1:] if (len(pts) - 1) % step else [])
    runs: list[list[str]] = [[]]
    for x, y in pts:
        if x is None or y is None or (sx.log and x <= 0):
            runs.append([])
        else:
            runs[-1].append(f"{sx(x):.1f},{sy(y):.1f}")
    out = [
        f'<polyline points="{" ".join(r)}" fill="none" stroke="{color}" stroke-width="{line.width}"/>'
        for r in runs
        if len(r) > 1
    ]
    # markers where asked, and a dot for a lone point (a line of one point would not show)
    dots = [(p, 3) for r in runs for p in r] if line.markers else [(r[0], 2) for r in runs if len(r) == 1]
    for p, radius in dots:
        cx, cy = p.split(",")
        out.append(f'<circle cx="{cx}" cy="{cy}" r="{radius}" fill="{color}"/>')
    return out


def line_chart(
    lines: Sequence[Line],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    width: float = 630,
    height: float = 300,
) -> str:
    """Lines over shared linear axes, each named in the legend (markers where the line has them)."""
    legend = [(ln.name, _color(i), "marker" if ln.markers else "line") for i, ln in enumerate(lines)]
    legend = [e for e in legend if e[0]]
    xs = [v for ln in lines for v in (_finite(x) for x in ln.xs) if v is not None]
    ys = [v for ln in lines for v in (_finite(y) for y in ln.ys) if v is not None]
    sy = Scale(*_domain(ys, False, zero=False), False, 0, 0)
    f = _Frame(width, height, title, xlabel, ylabel, legend, _tick_w(sy))
    if not xs or not ys:
        return f.empty()
    x_lo, x_hi = _domain(xs, False, zero=False)  # a margin: end markers are drawn whole
    sx = Scale(x_lo, x_hi, False, f.left, f.right)
    sy = Scale(sy.lo, sy.hi, False, f.bottom, f.top)
    body = _yaxis(f, sy, f.left, -1) + _xticks(f, sx)
    for i, ln in enumerate(lines):
        body += _polyline(ln, sx, sy, _color(i))
    return f.svg(body)
