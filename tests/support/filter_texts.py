"""Real-corpus loaders shared by the filter tests."""

from __future__ import annotations

import bz2
import functools
import html
import json
import re
from pathlib import Path

from curate.schema import docs_table


@functools.cache
def dedup_docs(corpus: Path) -> tuple[dict, ...]:
    """The 300 real originals of dedup/docs.jsonl with their corpus (web / wiki / books) as kind."""
    src = {}
    for line in (corpus / "dedup" / "sources.jsonl").open(encoding="utf-8"):
        s = json.loads(line)
        src[s["id"]] = s
    out = []
    for line in (corpus / "dedup" / "docs.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        s = src[r["id"]]
        if s["kind"] == "original":
            kind = s["source"]["corpus"]
            out.append({"id": r["id"], "source": kind, "kind": kind, "url": s["source"].get("url"), "text": r["text"]})
    return tuple(out)


def table(rows) -> pa.Table:  # noqa: F821
    return docs_table(rows)


@functools.cache
def html_text(corpus: Path, name: str) -> str:
    """Main text of one real page of web/html, extracted with trafilatura."""
    import trafilatura

    raw = (corpus / "web" / "html" / name).read_text(encoding="utf-8", errors="replace")
    return trafilatura.extract(raw) or ""


@functools.cache
def jawiki(corpus: Path, n: int = 10) -> tuple[str, ...]:
    """Plain text of the first ``n`` real Japanese Wikipedia articles (ns 0, no redirects)."""
    import mwparserfromhell

    xml = bz2.open(
        corpus / "wiki" / "jawiki-20230501-pages-articles-multistream.head.xml.bz2", "rt", encoding="utf-8"
    ).read()
    out = []
    for m in re.finditer(r"<ns>0</ns>.*?<text[^>]*>(.*?)</text>", xml, re.S):
        wikitext = html.unescape(m.group(1))
        if wikitext.lstrip().lower().startswith(("#redirect", "#転送")):
            continue
        out.append(mwparserfromhell.parse(wikitext).strip_code().strip())
        if len(out) >= n:
            break
    return tuple(out)


@functools.cache
def korean_fragments(corpus: Path) -> tuple[str, ...]:
    """The corpus has no Korean prose; these are the real Korean strings it does hold (Wikipedia lines)."""
    xml = bz2.open(corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2", "rt", encoding="utf-8").read()
    return tuple(m.group(0) for m in re.finditer(r"[\uac00-\ud7af][\uac00-\ud7af ,]*[\uac00-\ud7af]", xml))
