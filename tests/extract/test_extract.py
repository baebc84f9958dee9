"""ExtractStage and extract_file on real pages; timeouts, pass-through and bad documents are counted, and
HTML nested past the parser's bound, or too large a tree for the trafilatura fallback, is dropped before the
parser or trafilatura runs (no real page trips either guard).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from selectolax.lexbor import LexborHTMLParser

from curate.extract.engines import ENGINES, FALLBACK_ELEMENTS, FallbackTooLarge, extract_fast, prune_html
from curate.extract.fastpath import extract_main
from curate.extract.web import ExtractStage, ExtractTimeout, deadline, nesting_exceeds
from curate.schema import docs_table
from curate.sources.base import Unit
from curate.sources.warc import WarcReader
from curate.standalone import extract_file


def pages(corpus: Path, n: int = 12):
    res = WarcReader("web", "web").read(Unit(str(corpus / "web" / "pages.warc.gz")))
    return res.kept.slice(0, n)


def test_fast_engine_finds_main_text(corpus: Path) -> None:
    batch = pages(corpus)
    expected = {json.loads(x)["url"]: json.loads(x) for x in (corpus / "web" / "pages.jsonl").read_text().splitlines()}
    res = ExtractStage().apply(batch, None)
    assert res.kept.num_rows + res.dropped.num_rows + res.errors.num_rows == batch.num_rows
    assert res.kept.num_rows >= batch.num_rows - 1
    hits = sum(all(s in d["text"] for s in expected[d["url"]]["expected_with"]) for d in res.kept.to_pylist())
    assert hits >= 0.75 * res.kept.num_rows
    assert res.kept.column("id").to_pylist() == [
        i for i in batch.column("id").to_pylist() if i in set(res.kept.column("id").to_pylist())
    ]
    assert all(json.loads(m)["extracted"] == 1 for m in res.kept.column("meta").to_pylist())


def _spin(html: str, url: str | None = None, **_: object) -> tuple[str, dict]:
    """An extractor stuck in a CPU loop (the timeout counts CPU time, so sleeping would not trip it)."""
    end = time.process_time() + 10
    while time.process_time() < end:
        pass
    return "never", {}


def _swallowing(html: str, url: str | None = None, **_: object) -> tuple[str, dict]:
    """Like trafilatura's fallbacks: ``except Exception`` around the work, then a bare ``except:``."""
    try:
        _spin(html)
    except Exception:
        pass
    try:
        _spin(html)
    except:  # noqa: E722 - the case under test
        pass
    return _spin(html)


@pytest.mark.parametrize("extractor", [_spin, _swallowing])
def test_cpu_deadline_interrupts_busy_and_swallowing_code(extractor) -> None:
    t0 = time.process_time()
    with pytest.raises(ExtractTimeout), deadline(0.05) as armed:
        assert armed
        extractor("")
    assert time.process_time() - t0 < 1
    until = time.process_time() + 0.2  # disarmed after the block: no late raise
    while time.process_time() < until:
        pass


def test_timeout_empty_oversized_and_passthrough(corpus: Path, monkeypatch) -> None:
    batch = pages(corpus, 3).to_pylist()
    rows = [dict(r, meta=json.loads(r["meta"])) for r in batch]
    rows.append(dict(rows[0], id="x1", text="<html><body></body></html>"))
    rows.append(dict(rows[0], id="x2", text="already text", meta={"extracted": "1"}))
    monkeypatch.setitem(ENGINES, "fast", _spin)
    res = ExtractStage.from_dict({"timeout_s": 0.02}).apply(docs_table(rows), None)
    assert res.kept.column("id").to_pylist() == ["x2"]  # passes through untouched
    assert res.dropped.column("reason").to_pylist() == ["extract:timeout"] * 4
    monkeypatch.undo()
    res = ExtractStage.from_dict({"max_html_bytes": 100}).apply(docs_table(rows[:1] + rows[3:4]), None)
    assert res.dropped.column("reason").to_pylist() == ["extract:oversized", "extract:empty"]


def test_oversized_counts_bytes_not_characters(corpus: Path) -> None:
    """A page of real Chinese text (3 bytes a character in UTF-8) over the byte limit, under it in characters."""
    doc = json.loads((corpus / "cjk" / "docs.jsonl").open(encoding="utf-8").readline())
    html = f"<html><body><p>{doc['text']}</p></body></html>"
    size = len(html.encode("utf-8"))
    assert size > 2 * len(html)
    row = {"id": "0", "source": "web", "kind": "web", "url": "https://example.org/", "text": html, "meta": {}}
    res = ExtractStage.from_dict({"max_html_bytes": size - 1}).apply(docs_table([row]), None)
    assert res.dropped.column("reason").to_pylist() == ["extract:oversized"]
    assert ExtractStage.from_dict({"max_html_bytes": size}).apply(docs_table([row]), None).kept.num_rows == 1


def test_extract_file_standalone(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    counts = extract_file(str(corpus / "web" / "whirlwind.warc.gz"), str(out))
    assert counts["read"] == 4 and counts["kept"] == 1 and counts["read_dropped"] == {"warc:non_response": 3}
    assert counts["dropped_path"] == str(tmp_path / "out.dropped.parquet")
    table = pq.read_table(out)
    assert "Escopete" in table.column("text")[0].as_py() and "<html" not in table.column("text")[0].as_py()
    assert pq.read_table(tmp_path / "out.dropped.parquet").num_rows == 3
    counts = extract_file(str(corpus / "web" / "whirlwind.warc.wet.gz"), str(tmp_path / "wet.parquet"))
    assert counts["kept"] == 1


def _pages(corpus: Path, n: int) -> list[str]:
    return [p.read_text("utf-8", "replace") for p in sorted((corpus / "web" / "html").glob("*.html"))[:n]]


@pytest.mark.timeout(120)
def test_deeply_nested_html_is_dropped_before_the_parser(corpus: Path) -> None:
    pages = _pages(corpus, 3)
    deep = pages[0].replace("<body", "<body><p>" + "<div>" * 200_000 + "x" + "</div>" * 200_000, 1)  # 2.2 MB
    rows = [
        {"id": str(i), "source": "web", "kind": "web", "url": f"https://example.org/{i}", "text": html, "meta": {}}
        for i, html in enumerate([pages[1], deep, pages[2]])
    ]
    res = ExtractStage.from_dict({}).apply(docs_table(rows), None)
    assert res.kept.column("id").to_pylist() == ["0", "2"]
    assert res.dropped.column("reason").to_pylist() == ["extract:too_deep"] and res.errors.num_rows == 0
    # no deeper than its opening tags (the count that spares most pages the scan); the scan finds the divs
    opening = deep.count("<") - deep.count("</")
    assert not nesting_exceeds(deep, opening) and nesting_exceeds(deep, 199_999)


@pytest.mark.timeout(120)
def test_no_real_page_trips_the_nesting_guard(corpus: Path) -> None:
    pages = _pages(corpus, 1000)
    assert len(pages) == 256 and not any(nesting_exceeds(p, ExtractStage.Config().max_depth) for p in pages)


def _fallback_page(corpus: Path, copies: int) -> str:
    """A real page the fast path does not trust (its container is a small share of the page), its body
    repeated ``copies`` times: damaged data as a template or listing bug makes it, still a fallback page."""
    html = (corpus / "web" / "html" / "internet-law.de.pseudonymen.html").read_text("utf-8")
    start = html.index(">", html.index("<body")) + 1
    end = html.rindex("</body>")
    return html[:start] + html[start:end] * copies + html[end:]


def test_fallback_bound_counts_the_pruned_tree(corpus: Path) -> None:
    page = _fallback_page(corpus, 1)
    n = sum(1 for _ in LexborHTMLParser(prune_html(page)).root.traverse(include_text=False))
    assert 100 < n < FALLBACK_ELEMENTS
    assert prune_html(page, n) == prune_html(page)  # the bound is inclusive
    with pytest.raises(FallbackTooLarge):
        prune_html(page, n - 1)


@pytest.mark.timeout(120)
def test_huge_fallback_page_is_dropped_before_trafilatura(corpus: Path) -> None:
    big = _fallback_page(corpus, 30)  # ~30,000 elements after pruning
    assert extract_main(big) is None  # the fast path hands it to trafilatura
    rows = [
        {"id": str(i), "source": "web", "kind": "web", "url": f"https://example.org/{i}", "text": html, "meta": {}}
        for i, html in enumerate([_fallback_page(corpus, 1), big])
    ]
    res = ExtractStage.from_dict({}).apply(docs_table(rows), None)
    assert res.kept.column("id").to_pylist() == ["0"] and res.errors.num_rows == 0
    assert res.dropped.column("reason").to_pylist() == ["extract:fallback_too_large"]
    # the bound is the stage's setting: 0 lifts it and trafilatura extracts the page (the CPU timeout stays)
    text, meta = extract_fast(big, max_fallback_elements=0)
    assert meta["extract_path"] == "trafilatura" and len(text) > 10 * len(extract_fast(rows[0]["text"])[0])


@pytest.mark.timeout(120)
def test_no_real_page_trips_the_fallback_bound(corpus: Path) -> None:
    """None of the 256 annotated pages (all with known-good ``expected_with`` snippets) exceeds the default
    bound, even unpruned by the fast path's container (each whole page is pruned as the fallback prunes it)."""
    pages = _pages(corpus, 1000)
    for p in pages:
        prune_html(p, FALLBACK_ELEMENTS)  # raises FallbackTooLarge over the bound
