"""MediaWiki XML dump reader (plain, .bz2 including multistream), streamed with lxml ``iterparse``.

A multistream .bz2 dump larger than ``split_bytes`` is split into stream-aligned byte ranges read by
separate tasks (``curate.sources.bz2split``); their rows are exactly those of the whole-file read.

A page is the unit of failure: the byte stream is cut into ``<page>...</page>`` elements (``pages``)
and each is parsed on its own, so a page that is malformed XML, holds an undefined entity or a lone
surrogate is one error row and the pages after it are still read; a page over ``max_page_bytes`` is
dropped unparsed (``wiki:oversized``) and skipped to its end in constant memory; a stream that ends
inside a page or before ``</mediawiki>`` adds one ``wiki:truncated`` error.

Safe parsing: entities are never expanded (``resolve_entities=False``), no DTD or network is loaded and
``huge_tree`` stays off, so an entity-expansion bomb or a monster text node fails as a counted error.
Namespace-0 articles become documents (wikitext -> prose, ``curate.sources.wikitext``); other namespaces
(``wiki:namespace``), redirects (``wiki:redirect``), pages whose markup nests past the cleaner's bound
(``wiki:template_bound``) and pages empty after cleaning (``wiki:empty``) are dropped. A document id is
made from the file, page id and revision id (and the occurrence, for a page repeated in the file), so
the same page in two dumps never gives two documents one id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from lxml import etree

from curate.config import bounds
from curate.schema import doc_id
from curate.sources._util import Rows, Sink, read_unit
from curate.sources.base import Reader, Unit, split_units
from curate.sources.bz2split import range_xml, split_points
from curate.sources.idnames import id_location
from curate.sources.wikitext import MarkupTooDeep, WikitextCleaner
from curate.stage import StageResult

_PAGE_OPEN = re.compile(rb"<page[\s>]")
_PAGE_CLOSE = b"</page>"
_END = b"</mediawiki>"
_BLOCK = 1 << 20
_PARSER = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True)
_DBNAME = re.compile(r"^([a-z][a-z0-9_-]*?)(wiki|wiktionary|wikibooks|wikinews|wikiquote|wikisource|wikivoyage)$")


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(elem: Any, name: str) -> Any:
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _text(elem: Any, name: str) -> str:
    c = _child(elem, name) if elem is not None else None
    return (c.text or "") if c is not None else ""


def site_base(dbname: str, base: str) -> tuple[str, str]:
    """(lang, article URL prefix) from siteinfo: dbname ``ukwiki`` -> ``uk``, https://uk.wikipedia.org/wiki/;
    fallback: the prefix of ``base`` up to ``/wiki/``."""
    m = _DBNAME.match(dbname or "")
    if m and m.group(2) == "wiki":
        lang = m.group(1).replace("_", "-")
        return lang, f"https://{lang}.wikipedia.org/wiki/"
    if base and "/wiki/" in base:
        host = base.split("//", 1)[-1].split("/", 1)[0]
        return (m.group(1) if m else host.split(".")[0]), base[: base.index("/wiki/") + 6]
    if base.startswith(("http://", "https://")):  # a non-Wikipedia wiki (e.g. https://foldoc.org/FOLDOC)
        return (m.group(1) if m else ""), base[: base.rindex("/") + 1]
    return (m.group(1) if m else ""), "https://wikipedia.org/wiki/"


class WikiReader(Reader):
    format = "mediawiki"

    @dataclass
    class Config:
        namespaces: list[int] | None = field(default=None, metadata=bounds(ge=-2))  # kept; default [0] (articles)
        min_chars: int = field(default=1, metadata=bounds(ge=0))  # shorter cleaned pages are dropped (wiki:empty)
        # larger multistream .bz2 dumps are split into stream-aligned ranges
        split_bytes: int = field(default=256 << 20, metadata=bounds(ge=1))
        # larger <page> elements are dropped unparsed (wiki:oversized)
        max_page_bytes: int = field(default=8 << 20, metadata=bounds(ge=1))
        # pages whose markup nests deeper are dropped (wiki:template_bound)
        max_markup_depth: int = field(default=100, metadata=bounds(ge=0))
        retries: int = field(default=4, metadata=bounds(ge=1))
        retry_backoff_s: float = field(default=0.5, metadata=bounds(ge=0))

    def units(self, paths: list[str], ranges: int = 1) -> list[Unit]:
        # split_points keeps any file that is not multistream bz2 whole
        return split_units(paths, self.config.split_bytes, split_points, ranges)

    def read(self, unit: Unit, sink: Sink | None = None) -> StageResult:
        # Whole .bz2 files too (so a truncated one loses the same pages either way); a range is always bz2.
        if unit.path.endswith(".bz2") or unit.end is not None:
            return read_unit(self, unit, lambda f, rows: self._parse_bz2(f, unit, rows), sink=sink)
        return read_unit(self, unit, lambda f, rows: self._parse(f, unit.path, rows), compression="infer", sink=sink)

    def _parse_bz2(self, f: Any, unit: Unit, rows: Rows) -> None:
        src = range_xml(f, unit.start, unit.end, hold=self.config.max_page_bytes)
        self._parse(src, unit.path, rows)
        if src.error is not None:  # the decompression failure (the partial page was discarded)
            raise src.error

    def _parse(self, f: Any, path: str, rows: Rows) -> None:
        keep_ns = {str(n) for n in (self.config.namespaces if self.config.namespaces is not None else [0])}
        lang, prefix = "", "https://wikipedia.org/wiki/"
        cleaner = WikitextCleaner(max_depth=self.config.max_markup_depth)
        seen: dict[str, int] = {}
        for n, (kind, data) in enumerate(pages(f, self.config.max_page_bytes)):
            if kind == "head":
                try:  # a siteinfo that does not parse costs the site's language and URLs, not its pages
                    lang, prefix, cleaner = self._siteinfo(data, lang, prefix, cleaner)
                except (etree.XMLSyntaxError, ValueError) as e:
                    rows.error("wiki:bad_siteinfo", path, {"file": path, "error": str(e)[:300]})
            elif kind == "page":
                with rows.record(f"{path}#page{n}", {"file": path}):
                    page = etree.fromstring(data, etree.XMLParser(**_PARSER))
                    self._page(page, keep_ns, lang, prefix, cleaner, rows, path, seen)
            elif kind == "oversized":
                title = re.search(rb"<title>([^<]{0,300})</title>", data)
                rows.drop(
                    "wiki:oversized",
                    title.group(1).decode("utf-8", "replace") if title else path,
                    {"file": path, "bytes_over": self.config.max_page_bytes},
                )
            else:
                rows.error("wiki:truncated", path, {"file": path})

    def _siteinfo(
        self, head: bytes, lang: str, prefix: str, cleaner: WikitextCleaner
    ) -> tuple[str, str, WikitextCleaner]:
        start, end = head.find(b"<siteinfo"), head.find(b"</siteinfo>")
        if start < 0 or end < 0:
            return lang, prefix, cleaner
        elem = etree.fromstring(head[start : end + len(b"</siteinfo>")], etree.XMLParser(**_PARSER))
        lang, prefix = site_base(_text(elem, "dbname"), _text(elem, "base"))
        nss = _child(elem, "namespaces")
        return (
            lang,
            prefix,
            WikitextCleaner(
                {(n.text or "") for n in nss} if nss is not None else set(), max_depth=self.config.max_markup_depth
            ),
        )

    def _page(
        self,
        page: Any,
        keep_ns: set[str],
        lang: str,
        prefix: str,
        cleaner: WikitextCleaner,
        rows: Rows,
        path: str,
        seen: dict[str, int],
    ) -> None:
        title = _text(page, "title")
        rev = _child(page, "revision")
        url = prefix + quote(title.replace(" ", "_"), safe="/:()',!*$@;~-._")
        meta = {
            "title": title,
            "page_id": _text(page, "id"),
            "rev_id": _text(rev, "id"),
            "timestamp": _text(rev, "timestamp"),
            "ns": _text(page, "ns"),
            "wiki_lang": lang,
        }
        if meta["ns"] not in keep_ns:
            return rows.drop("wiki:namespace", url, meta)
        key = f"{path}#page={meta['page_id']},rev={meta['rev_id']}"
        seen[key] = seen.get(key, 0) + 1
        location = key if seen[key] == 1 else f"{key},copy={seen[key]}"
        if _child(page, "redirect") is not None:
            return rows.drop("wiki:redirect", url, meta)
        try:
            text = cleaner.clean(_text(rev, "text"))
        except MarkupTooDeep:
            return rows.drop("wiki:template_bound", url, meta)
        if len(text) < max(1, self.config.min_chars):
            return rows.drop("wiki:empty", url, meta)
        rows.keep(doc_id(self.source, id_location(path, location), text), url, text, meta)


def pages(f: Any, max_page_bytes: int) -> Iterator[tuple[str, bytes]]:
    """Cut an XML dump stream into ("head", bytes before the first page), then ("page", one
    ``<page>...</page>``) per page, ("oversized", its first 64 KiB) for a page over ``max_page_bytes``
    (skipped without holding it), and ("truncated", b"") when the stream ends inside a page or before
    ``</mediawiki>``. Memory: one page (at most ``max_page_bytes``) plus one read block."""
    buf, in_page, skipping, head_done, scan = bytearray(), False, False, False, 0
    ended = False
    while True:
        block = f.read(_BLOCK)
        buf += block
        while True:
            if not in_page:
                m = _PAGE_OPEN.search(buf)
                if m is None:
                    if not head_done and (not block or len(buf) > max_page_bytes):
                        yield "head", bytes(buf[:max_page_bytes])
                        head_done = True
                    ended = ended or _END in buf
                    keep = len(buf) - len(_END) if block else len(buf)
                    if head_done and keep > 0:
                        del buf[:keep]  # text between pages: whitespace
                    break
                if not head_done:
                    yield "head", bytes(buf[: m.start()])
                    head_done = True
                del buf[: m.start()]
                in_page, scan = True, 0
            j = buf.find(_PAGE_CLOSE, scan)
            if j < 0:
                scan = max(0, len(buf) - len(_PAGE_CLOSE))
                if len(buf) > max_page_bytes and not skipping:
                    yield "oversized", bytes(buf[: 1 << 16])
                    skipping = True
                if skipping:  # keep only what could start the closing tag
                    del buf[:scan]
                    scan = 0
                break
            page, skipping_page = bytes(buf[: j + len(_PAGE_CLOSE)]), skipping
            del buf[: j + len(_PAGE_CLOSE)]
            in_page = skipping = False
            if not skipping_page:
                if len(page) > max_page_bytes:
                    yield "oversized", page[: 1 << 16]
                else:
                    yield "page", page
        if not block:
            break
    if in_page or not ended:
        yield "truncated", b""
