"""HTML -> main text engines.

- ``trafilatura``: trafilatura 2.x defaults (the quality reference).
- ``fast``: ``fastpath.extract_main`` (lexbor/selectolax: main-content container, boilerplate and
  link-density pruning, block rendering); pages it does not trust (no text block, too little text,
  small share of the page) go to trafilatura (default mode, without comments) on a lexbor-pruned tree
  (junk elements and boilerplate-classed blocks removed).
- ``resiliparse``: resiliparse main-content extraction (fast, lower quality), for comparison.

Every engine returns ``(text, meta)``; ``text`` is "" when nothing was found.
"""

from __future__ import annotations

from collections.abc import Callable

from curate.extract.fastpath import drop_boilerplate, extract_main, select

# Elements that never hold main text; removing them in C first shrinks the tree trafilatura walks in Python.
# Kept: JSON-LD (trafilatura's baseline reads ``articleBody`` from it), and ``noscript``/``aside``, which
# trafilatura's own cleaning drops but its fallbacks (baseline, readability) read on a backup tree: some
# pages carry the article there (Blogger renders posts in ``noscript``).
PRUNE_CSS = (
    'script:not([type="application/ld+json"]), style, svg, iframe, template, form, nav, footer, button, '
    "select, input, link, object, embed, canvas, video, audio"
)


def _trafilatura(html: str, url: str | None, **kw: object) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url, **kw) or ""


def extract_trafilatura(html: str, url: str | None = None) -> tuple[str, dict[str, str]]:
    return _trafilatura(html, url), {"extractor": "trafilatura"}


def prune_html(html: str) -> str:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    for node in select(tree, PRUNE_CSS):  # each node once: lexbor repeats nodes matching several selectors
        node.decompose()
    if tree.body is not None:  # blocks trafilatura would discard anyway, so its readability pass is smaller
        drop_boilerplate(tree.body)
    return tree.html or ""


def extract_fast(html: str, url: str | None = None) -> tuple[str, dict[str, str]]:
    """Container fast path (``fastpath.extract_main``); pages it does not trust go to trafilatura."""
    text = extract_main(html)
    if text is not None:
        return text, {"extractor": "fast", "extract_path": "container"}
    text = _trafilatura(prune_html(html), url, include_comments=False)
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
