"""HTML -> main text engines.

- ``trafilatura``: trafilatura 2.x defaults (the quality reference).
- ``fast``: ``fastpath.extract_main`` (lexbor/selectolax: main-content container, boilerplate and
  link-density pruning, block rendering); pages it does not trust (no text block, too little text,
  small share of the page) go to trafilatura (default mode, without comments) on a lexbor-pruned tree
  (junk elements and boilerplate-classed blocks removed), unless that tree holds more than
  ``max_fallback_elements`` elements (``FallbackTooLarge``: a cost bound decided before trafilatura runs).
- ``resiliparse``: resiliparse main-content extraction (fast, lower quality), for comparison.

Every engine returns ``(text, meta)``; ``text`` is "" when nothing was found.
"""

from __future__ import annotations

from collections.abc import Callable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from curate.extract.fastpath import drop_boilerplate, extract_main, select
from curate.extract.stoplists import use_compact_stop_words

# Elements that never hold main text; removing them in C first shrinks the tree trafilatura walks in Python.
# Kept: JSON-LD (trafilatura's baseline reads ``articleBody`` from it), and ``noscript``/``aside``, which
# trafilatura's own cleaning drops but its fallbacks (baseline, readability) read on a backup tree: some
# pages carry the article there (Blogger renders posts in ``noscript``).
PRUNE_CSS = (
    'script:not([type="application/ld+json"]), style, svg, iframe, template, form, nav, footer, button, '
    "select, input, link, object, embed, canvas, video, audio"
)


# Elements of the pruned tree the fast engine's trafilatura fallback accepts (``stages.extract.
# max_fallback_elements``). trafilatura's CPU grows at least linearly in them: 25-60 us per element on real
# pages repeated into long lists (flat markup), 145 us on the 48,733-element Sphinx table of contents of
# docs.python.org (nested lists: 7 CPU-s, past the 5 s timeout). The largest fallback tree among the 2,057
# pages of the test corpus, the whirlwind WARC and the sample WARC holds 6,446 (0.3 s); 25,000 is ~4x that.
FALLBACK_ELEMENTS = 25_000


class FallbackTooLarge(Exception):
    """The pruned page holds more elements than the trafilatura fallback accepts."""


def _trafilatura(html: str, url: str | None, **kw: object) -> str:
    import trafilatura

    use_compact_stop_words()  # once per process: its justext rescue's stop words take 6.5 MB, not 35
    return trafilatura.extract(html, url=url, **kw) or ""


def extract_trafilatura(html: str, url: str | None = None) -> tuple[str, dict[str, str]]:
    return _trafilatura(html, url), {"extractor": "trafilatura"}


def prune_html(html: str, max_elements: int = 0) -> str:
    """``html`` without the elements trafilatura never reads (``PRUNE_CSS``, boilerplate blocks); raises
    ``FallbackTooLarge`` when more than ``max_elements`` (> 0) elements remain."""
    tree = LexborHTMLParser(html)
    for node in select(tree, PRUNE_CSS):  # each node once: lexbor repeats nodes matching several selectors
        node.decompose()
    if tree.body is not None:  # blocks trafilatura would discard anyway, so its readability pass is smaller
        drop_boilerplate(tree.body)
    if max_elements > 0 and tree.root is not None and _more_elements(tree.root, max_elements):
        raise FallbackTooLarge(f"over {max_elements} elements after pruning")
    return tree.html or ""


def _more_elements(root: LexborNode, limit: int) -> bool:
    """Whether the tree under ``root`` (included) holds more than ``limit`` elements; stops at ``limit + 1``."""
    for n, _ in enumerate(root.traverse(include_text=False), 1):
        if n > limit:
            return True
    return False


def extract_fast(
    html: str, url: str | None = None, max_fallback_elements: int = FALLBACK_ELEMENTS
) -> tuple[str, dict[str, str]]:
    """Container fast path (``fastpath.extract_main``); pages it does not trust go to trafilatura, unless
    their pruned tree holds more than ``max_fallback_elements`` elements (0: no bound)."""
    text = extract_main(html)
    if text is not None:
        return text, {"extractor": "fast", "extract_path": "container"}
    text = _trafilatura(prune_html(html, max_fallback_elements), url, include_comments=False)
    return text, {"extractor": "fast", "extract_path": "trafilatura"}


def extract_resiliparse(html: str, url: str | None = None) -> tuple[str, dict[str, str]]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse(html), main_content=True).strip(), {"extractor": "resiliparse"}


ENGINES: dict[str, Callable[[str, str | None], tuple[str, dict[str, str]]]] = {
    "fast": extract_fast,
    "trafilatura": extract_trafilatura,
    "resiliparse": extract_resiliparse,
}
