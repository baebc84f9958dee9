"""Wiki sample: FOLDOC (dict-foldoc) written as a MediaWiki export-0.10 XML dump (bz2).

One ns-0 page per dictionary entry (entries sharing a title are merged), ``#REDIRECT`` pages for the
entry's alternative headwords, and the dictd ``00-database-*`` meta entries as ns-4 (project) pages.
"""

from __future__ import annotations

import bz2
import hashlib
import re
import textwrap
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin
from xml.sax.saxutils import escape, quoteattr

from curate.sample.debian import DictEntry

FOLDOC_BASE = "https://foldoc.org/"
EXPORT_NS = "http://www.mediawiki.org/xml/export-0.10/"
_XREF = re.compile(r"\{([^{}]+)\}")
_URL_TAIL = re.compile(r"^(.*?)\s*\(([^\s()]+)\)\s*$", re.S)
_DATE = re.compile(r"\((\d{4})-(\d{2})-(\d{2})\)\s*$")
_DOMAIN = re.compile(r"^((?:\d+\.\s+)?)<([a-z][a-z0-9 ,.&/\-]*)>", re.M)
_ESC = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "[": "&#91;",
    "]": "&#93;",
    "{": "&#123;",
    "}": "&#125;",
    "|": "&#124;",
    "'": "&#39;",
    "~": "&#126;",
    "_": "&#95;",
}
_PROTOCOL = re.compile(r"^(https?|ftp|mailto|news|gopher|telnet|irc):")
_BAD_LINK = re.compile(r"[#<>\[\]|{}_;=\"\\]")


@dataclass(frozen=True)
class WikiPage:
    title: str
    ns: int
    text: str
    timestamp: str
    redirect: str | None = None


def _plain(s: str) -> str:
    """Escape prose so MediaWiki shows it literally (entities; parsers decode them back)."""
    s = s.replace("&", "&amp;")
    s = re.sub(r"[<>\[\]{}|~]", lambda m: _ESC[m.group(0)], s)
    s = re.sub(r"'{2,}", lambda m: "&#39;" * len(m.group(0)), s)
    return re.sub(r"__", "&#95;&#95;", s)


def _xref(inner: str) -> str:
    """A FOLDOC ``{...}`` reference as wikitext: external link, internal link, or literal text."""
    target = " ".join(inner.split())
    m = _URL_TAIL.match(inner)
    if m and ("/" in m.group(2) or m.group(2).endswith((".html", ".htm"))):
        label, url = " ".join(m.group(1).split()), urljoin(FOLDOC_BASE, m.group(2))
    else:  # a bare URL, e.g. {news:comp.lang.c}
        label, url = "", target
    if _PROTOCOL.match(url) and not re.search(r"[\s\[\]<>\"]", url):
        return f"[{url} {_plain(label or url)}]"  # FOLDOC shows an unlabelled URL as its own label
    if target and len(target) <= 80 and not _BAD_LINK.search(target) and not target.startswith(":"):
        return f"[[{target}]]"
    return _plain("{" + inner + "}")


def body_to_wikitext(body: str) -> str:
    """FOLDOC body (3-space indented prose) -> light wikitext.

    Cross references ``{term}`` become ``[[term]]`` (``{label (url)}`` external links), a sense's leading
    subject tag ``<language, humour>`` becomes italic, FOLDOC's 3-space indent is removed (deeper-indented
    lines, mostly code, stay indented: wikitext preformatted), and all other markup characters are escaped.
    """
    lines = (re.sub(r"^ {1,3}", "", ln.rstrip()) for ln in body.strip("\n").split("\n"))
    text = textwrap.dedent("\n".join(lines))  # some entries are indented deeper than FOLDOC's 3 spaces
    out, pos = [], 0
    for m in _XREF.finditer(text):
        out.append(_markup_plain(text[pos : m.start()]))
        out.append(_xref(m.group(1)))
        pos = m.end()
    out.append(_markup_plain(text[pos:]))
    return "".join(out).strip("\n")


def _markup_plain(s: str) -> str:
    parts, pos = [], 0
    for m in _DOMAIN.finditer(s):
        parts.append(_plain(s[pos : m.start()]))
        parts.append(f"{m.group(1)}''{_plain(m.group(2))}''")
        pos = m.end()
    parts.append(_plain(s[pos:]))
    return "".join(parts)


def _timestamp(body: str, default: datetime) -> str:
    m = _DATE.search(body)
    if m and 1 <= int(m.group(2)) <= 12 and 1 <= int(m.group(3)) <= 31:
        return f"{m.group(1)}-{m.group(2)}-{m.group(3)}T00:00:00Z"
    return default.strftime("%Y-%m-%dT%H:%M:%SZ")


def foldoc_pages(entries: list[DictEntry], default_date: datetime, max_pages: int = 0) -> list[WikiPage]:
    """Pages for FOLDOC dictd entries (data order): articles, then redirects, then meta (ns 4) pages.

    ``max_pages`` > 0 keeps the first N articles (and only the redirects pointing at them).
    """
    meta: list[WikiPage] = []
    articles: dict[str, list[tuple[str, list[str]]]] = {}
    for e in entries:
        if e.headwords[0].startswith("00-database"):
            meta.append(
                WikiPage(
                    "FOLDOC:" + e.headwords[0],
                    4,
                    _plain(e.text.strip("\n")),
                    default_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
            )
            continue
        head, _, body = e.text.partition("\n\n")
        names = [h.strip() for h in head.split("\n") if h.strip()]
        if not names:
            continue
        articles.setdefault(names[0], []).append((body, names[1:]))
    titles = list(articles)[: max_pages or None]
    pages, seen = [], set(titles)
    redirects = []
    for title in titles:
        bodies = articles[title]
        wikitext = "\n\n".join(body_to_wikitext(b) for b, _ in bodies)
        stamp = max(_timestamp(b, default_date) for b, _ in bodies)
        pages.append(WikiPage(title, 0, wikitext, stamp))
        for _, aliases in bodies:
            for a in aliases:
                if a not in seen and not _BAD_LINK.search(a) and not _BAD_LINK.search(title) and "&" not in a:
                    seen.add(a)
                    redirects.append(WikiPage(a, 0, f"#REDIRECT [[{title}]]", stamp, redirect=title))
    return pages + redirects + meta


def sha1_base36(text: str) -> str:
    """MediaWiki's revision sha1: SHA-1 of the UTF-8 text in base 36, zero-padded to 31 characters."""
    n = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)
    digits = ""
    while n:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
    return digits.rjust(31, "0")


def _siteinfo(generator: str) -> str:
    return (
        f"  <siteinfo>\n    <sitename>FOLDOC</sitename>\n    <dbname>foldoc</dbname>\n"
        f"    <base>{FOLDOC_BASE}</base>\n    <generator>{escape(generator)}</generator>\n"
        f"    <case>case-sensitive</case>\n    <namespaces>\n"
        f'      <namespace key="0" case="case-sensitive" />\n'
        f'      <namespace key="4" case="case-sensitive">FOLDOC</namespace>\n'
        f"    </namespaces>\n  </siteinfo>\n"
    )


def page_xml(page: WikiPage, page_id: int) -> str:
    redirect = f"    <redirect title={quoteattr(page.redirect)} />\n" if page.redirect else ""
    nbytes = len(page.text.encode("utf-8"))
    return (
        f"  <page>\n    <title>{escape(page.title)}</title>\n    <ns>{page.ns}</ns>\n    <id>{page_id}</id>\n"
        f"{redirect}    <revision>\n      <id>{page_id}</id>\n      <timestamp>{page.timestamp}</timestamp>\n"
        f'      <contributor deleted="deleted" />\n      <model>wikitext</model>\n'
        f"      <format>text/x-wiki</format>\n"
        f'      <text bytes="{nbytes}" xml:space="preserve">{escape(page.text)}</text>\n'
        f"      <sha1>{sha1_base36(page.text)}</sha1>\n    </revision>\n  </page>\n"
    )


def write_export(out: Path, pages: list[WikiPage], generator: str = "curate.sample") -> dict[str, int]:
    """Write ``out`` as a bz2 MediaWiki export-0.10 document; page and revision ids are 1..N in order."""
    head = (
        f'<mediawiki xmlns="{EXPORT_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{EXPORT_NS} http://www.mediawiki.org/xml/export-0.10.xsd" '
        f'version="0.10" xml:lang="en">\n'
    )
    with bz2.open(out, "wt", encoding="utf-8", compresslevel=9) as f:
        f.write(head + _siteinfo(generator))
        for i, page in enumerate(pages, 1):
            f.write(page_xml(page, i))
        f.write("</mediawiki>\n")
    counts = {
        "docs": sum(1 for p in pages if p.ns == 0 and not p.redirect),
        "redirects": sum(1 for p in pages if p.redirect),
        "meta": sum(1 for p in pages if p.ns != 0),
    }
    return counts
