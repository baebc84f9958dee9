"""Issue 14, class 2 (hangs): no per-record step runs unbounded; a record stopped by a bound is dropped
with a reason naming it. Inputs are real pages and real wiki pages with hostile markup spliced in;
special files (FIFOs) are covered in ``test_reliability_paths.py``.

Each hostile record here takes from tens of seconds to minutes in C code (lexbor, mwparserfromhell's
tokenizer) that no CPU deadline can interrupt, so the test timeout fails the suite if a guard is gone.
"""
from __future__ import annotations

import bz2
import html
import re
from pathlib import Path

import pytest

from curate.extract.web import ExtractStage, nesting_exceeds
from curate.schema import docs_table
from curate.sources.base import Unit
from curate.sources.wiki import WikiReader
from curate.sources.wikitext import markup_depth

pytestmark = pytest.mark.timeout(120)


def _pages(corpus: Path, n: int) -> list[str]:
    return [p.read_text("utf-8", "replace") for p in sorted((corpus / "web" / "html").glob("*.html"))[:n]]


def test_deeply_nested_html_is_dropped_before_the_parser(corpus: Path) -> None:
    pages = _pages(corpus, 3)
    deep = pages[0].replace("<body", "<body><p>" + "<div>" * 200_000 + "x" + "</div>" * 200_000, 1)  # 2.2 MB
    rows = [{"id": str(i), "source": "web", "kind": "web", "url": f"https://example.org/{i}", "text": html,
             "meta": {}} for i, html in enumerate([pages[1], deep, pages[2]])]
    res = ExtractStage.from_dict({}).apply(docs_table(rows), None)
    assert res.kept.column("id").to_pylist() == ["0", "2"]
    assert res.dropped.column("reason").to_pylist() == ["extract:too_deep"] and res.errors.num_rows == 0


def test_no_real_page_trips_the_nesting_guard(corpus: Path) -> None:
    pages = _pages(corpus, 1000)
    assert len(pages) == 256 and not any(nesting_exceeds(p, ExtractStage.Config().max_depth) for p in pages)


@pytest.mark.parametrize("opener", ["{{lang|", "[[Toronto|", "{|\n", "&lt;ref&gt;", "[http://example.org "])
def test_unclosed_wikitext_markup_is_bounded(corpus: Path, tmp_path: Path, opener: str) -> None:
    xml = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes()).decode("utf-8")
    ends = [m.end() for m in re.finditer("</page>", xml)]
    xml = xml[: ends[7]] + "\n</mediawiki>\n"  # the first 8 real pages (no redirect among them)
    at = list(re.finditer(r"<text[^>]*>", xml))[4].end() + 200  # inside the 5th page's wikitext
    p = tmp_path / "hostile.xml"
    p.write_text(xml[:at] + opener * 20_000 + xml[at:], encoding="utf-8")
    res = WikiReader("wiki", "wiki").read(Unit(str(p)))
    assert "<redirect" not in xml and res.kept.num_rows == 7 and res.errors.num_rows == 0
    assert res.dropped.column("reason").to_pylist() == ["wiki:template_bound"]


def test_real_wiki_pages_stay_far_below_the_markup_bound(corpus: Path) -> None:
    xml = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes()).decode("utf-8")
    depths = [markup_depth(html.unescape(t)) for t in re.findall(r"<text[^>]*>(.*?)</text>", xml, re.S)]
    assert len(depths) == 71 and max(depths) <= 12 < WikiReader.Config().max_markup_depth  # ukwiki, jawiki: 10, 12
