"""The selectolax container fast path on real pages: coverage, quality beside trafilatura, fallback,
determinism and broken input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from curate.extract.engines import extract_fast, extract_trafilatura
from curate.extract.fastpath import (
    BREAK_TAGS,
    CANDIDATE_CSS,
    CONTAINER_TAGS,
    JUNK_TAGS,
    LINKED_BLOCKS_CSS,
    _container_level,
    _lines,
    _remove_junk,
    extract_main,
    extract_traced,
    select,
    tagged,
)
from curate.sources.base import Unit
from curate.sources.warc import WarcReader

N = 64  # the first pages of the WARC, in file order


@pytest.fixture(scope="module")
def pages(corpus: Path) -> list[tuple[dict, dict]]:
    expected = {json.loads(x)["url"]: json.loads(x) for x in (corpus / "web" / "pages.jsonl").read_text().splitlines()}
    docs = WarcReader("web", "web").read(Unit(str(corpus / "web" / "pages.warc.gz"))).kept.slice(0, N).to_pylist()
    return [(d, expected[d["url"]]) for d in docs]


def snippets_ok(text: str, exp: dict) -> list[bool]:
    return [s in text for s in exp["expected_with"]] + [s not in text for s in exp["expected_without"]]


def test_fast_path_covers_most_pages_at_trafilatura_quality(pages) -> None:
    covered = [(d, e, t) for d, e in pages if (t := extract_main(d["text"])) is not None]
    assert len(covered) >= 0.8 * len(pages)
    ours = [ok for _, e, t in covered for ok in snippets_ok(t, e)]
    ref = [ok for d, e, _ in covered for ok in snippets_ok(extract_trafilatura(d["text"], d["url"])[0], e)]
    assert sum(ours) >= sum(ref) - 0.02 * len(ref)  # same pages, same snippets
    for _, _, text in covered:
        assert "<p" not in text and "<div" not in text and "\ue000" not in text
        assert all(line == line.strip() and line for line in text.split("\n"))


def test_untrusted_pages_fall_back_to_trafilatura(pages) -> None:
    reasons = {d["url"]: extract_traced(d["text"])[1] for d, _ in pages}
    fallback = [d for d, _ in pages if not reasons[d["url"]].startswith(("level:", "body"))]
    assert fallback, "the sample holds pages without a trusted container"
    for d in fallback[:3]:
        text, meta = extract_fast(d["text"], d["url"])
        assert meta["extract_path"] == "trafilatura" and text
    d = next(d for d, _ in pages if reasons[d["url"]].startswith("level:"))
    assert extract_fast(d["text"], d["url"])[1]["extract_path"] == "container"


def test_deterministic(pages) -> None:
    for d, _ in pages[:16]:
        assert extract_main(d["text"]) == extract_main(d["text"])


def test_select_yields_each_node_once_in_document_order(pages) -> None:
    tree = LexborHTMLParser(pages[0][0]["text"])
    nodes = select(tree, "div, [class], [id]")
    ids = [n.mem_id for n in nodes]
    assert len(ids) == len(set(ids)) and len(ids) >= len(tree.css("div"))
    assert [n.mem_id for n in select(tree, "div")] == [n.mem_id for n in tree.css("div")]


def test_tagged_matches_the_css_selector_list(pages) -> None:
    """The one-walk tag filter gives what lexbor's selector list gives (the node itself included), in order."""
    for d, _ in pages[:16]:
        tree = LexborHTMLParser(d["text"])
        for tags in (JUNK_TAGS, BREAK_TAGS, frozenset({"div"})):
            want = [n.mem_id for n in select(tree.body, ", ".join(sorted(tags)))]
            assert [n.mem_id for n in tagged(tree.body, tags)] == want and want


def test_is_selector_matches_the_selector_list(pages) -> None:
    """lexbor's ``:is(a, b)`` yields what the list ``a, b`` yields without its repeats, walking the tree once."""
    attrs = "[class], [id], [style], [role], [aria-hidden]"
    for d, _ in pages[:16]:
        body = LexborHTMLParser(d["text"]).body
        want = [n.mem_id for n in select(body, attrs)]
        assert [n.mem_id for n in body.css(f":is({attrs})")] == want and want
        # the container candidates: every element the cascade accepts, none lost by the attribute prefilter
        every = [n.mem_id for n in tagged(body, CONTAINER_TAGS) if _container_level(n.tag, n.attributes)]
        found = body.css(CANDIDATE_CSS)
        assert [n.mem_id for n in found if _container_level(n.tag, n.attributes)] == every


def test_linked_blocks_are_the_block_ancestors_of_links(pages) -> None:
    """``:has(a)`` finds every div/ul/ol/dl/p that holds a link, in document order (walked up from each link)."""
    for d, _ in pages[:16]:
        body = LexborHTMLParser(d["text"]).body
        holders = set()
        for a in body.css("a"):
            p = a.parent
            while p is not None and p.mem_id != body.mem_id:
                holders.add(p.mem_id)
                p = p.parent
        blocks = frozenset({"div", "ul", "ol", "dl", "p"})
        want = [n.mem_id for n in tagged(body, blocks) if n.mem_id in holders]
        assert [n.mem_id for n in body.css(LINKED_BLOCKS_CSS)] == want and want


def test_junk_removal_in_one_walk_equals_unwrapping_first(by_url) -> None:
    """Collecting the junk before unwrapping the article's ``noscript`` removes what collecting after it did."""
    blogger = _page(by_url, "https://security.googleblog.com/2020/05/")[0]["text"]
    for html in [blogger] + [d["text"] for d, _ in list(by_url.values())[:16]]:
        ours, ref = LexborHTMLParser(html), LexborHTMLParser(html)
        _remove_junk(ours.body)
        for n in select(ref.body, "noscript"):
            if n.css_first("p") is not None:
                n.unwrap()
        for n in tagged(ref.body, JUNK_TAGS):
            n.decompose()
        assert ours.html == ref.html
    assert any(n.css_first("p") is not None for n in LexborHTMLParser(blogger).css("noscript"))  # the case held


def test_lines_collapse_whitespace_as_the_regex_did(pages) -> None:
    import re

    for d, _ in pages[:16]:
        text = LexborHTMLParser(d["text"]).body.text(deep=True).replace("\n\n", "\ue000")
        want = [s for s in (re.sub(r"\s+", " ", part).strip() for part in text.split("\ue000")) if s]
        assert _lines(text) == want and want


@pytest.mark.parametrize("html", ["", "<html></html>", "\x00\xff<<>>&&", "<div class='entry-content'>" * 5000])
def test_broken_input_gives_none_not_an_exception(html: str) -> None:
    assert extract_main(html) is None
    text, _ = extract_fast(html)
    assert isinstance(text, str)


def test_prune_html_decomposes_each_node_once(pages, monkeypatch) -> None:
    """Regression: a node matching several selectors of a list must be decomposed once (lexbor yields it
    once per selector; a second decompose touches freed memory)."""
    from curate.extract import engines

    monkeypatch.setattr(engines, "PRUNE_CSS", "script, script[src], nav, div[class], div")
    for d, _ in pages[:8]:
        tree = LexborHTMLParser(d["text"])
        assert len(tree.css(engines.PRUNE_CSS)) > len(select(tree, engines.PRUNE_CSS))  # overlaps exist
        out = LexborHTMLParser(engines.prune_html(d["text"]))
        assert out.css("script, nav, div") == [] and out.body is not None


@pytest.fixture(scope="module")
def by_url(corpus: Path) -> dict[str, tuple[dict, dict]]:
    expected = {json.loads(x)["url"]: json.loads(x) for x in (corpus / "web" / "pages.jsonl").read_text().splitlines()}
    docs = WarcReader("web", "web").read(Unit(str(corpus / "web" / "pages.warc.gz"))).kept.to_pylist()
    return {d["url"]: (d, expected[d["url"]]) for d in docs}


def _page(by_url: dict, prefix: str) -> tuple[dict, dict]:
    return next(v for url, v in by_url.items() if url.startswith(prefix))


@pytest.mark.parametrize(
    "prefix",
    [
        "https://security.googleblog.com/2020/05/",  # the post sits in <noscript> inside itemprop=articleBody
        "https://laviedesidees.fr/L-evaluation",  # the first entry-content div is a short teaser, the second the article
    ],
)
def test_fast_path_reads_articles_past_noscript_and_teasers(by_url, prefix: str) -> None:
    d, exp = _page(by_url, prefix)
    text, why = extract_traced(d["text"])
    assert why.startswith("level:") and all(snippets_ok(text, exp))


@pytest.mark.parametrize("prefix", ["https://idw-online.de/de/news823175", "https://www.markeich.de/kontakt/"])
def test_pages_without_a_container_use_the_pruned_body(by_url, prefix: str) -> None:
    d, exp = _page(by_url, prefix)
    text, why = extract_traced(d["text"])
    assert why == "body" and all(snippets_ok(text, exp))


def test_fallback_keeps_the_aside_trafilatura_reads(by_url) -> None:
    """rnz.de puts the article in an <aside>: trafilatura's fallbacks find it, so the pre-prune keeps asides."""
    d, exp = _page(by_url, "https://www.rnz.de/nachrichten_artikel")
    text, meta = extract_fast(d["text"], d["url"])
    assert meta["extract_path"] == "trafilatura" and all(snippets_ok(text, exp))
