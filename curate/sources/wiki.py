"""MediaWiki XML dump reader (plain, .bz2 including multistream), streamed with lxml ``iterparse``.

A multistream .bz2 dump larger than ``split_bytes`` is split into stream-aligned byte ranges read by
separate tasks (``curate.sources.bz2split``); their rows are exactly those of the whole-file read.

Safe parsing: entities are never expanded (``resolve_entities=False``), no DTD or network is loaded and
``huge_tree`` stays off, so an entity-expansion bomb or a monster text node fails as a counted error.
Namespace-0 articles become documents (wikitext -> prose, ``curate.sources.wikitext``); other namespaces
(``wiki:namespace``), redirects (``wiki:redirect``) and pages empty after cleaning (``wiki:empty``) are
dropped; a page that fails to convert is an error; a broken XML stream ends the unit with an error after
keeping the pages read so far.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from lxml import etree

from curate.schema import doc_id
from curate.sources._util import Rows, read_unit
from curate.sources.bz2split import range_xml, split_points
from curate.sources.base import Reader, Unit, split_units
from curate.sources.wikitext import WikitextCleaner
from curate.stage import StageResult

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
        namespaces: list[int] | None = None  # kept namespaces; default [0] (articles)
        min_chars: int = 1  # shorter cleaned pages are dropped (wiki:empty)
        split_bytes: int = 256 << 20  # larger multistream .bz2 dumps are split into stream-aligned ranges
        retries: int = 4
        retry_backoff_s: float = 0.5

    def units(self, paths: list[str]) -> list[Unit]:
        split = self.config.split_bytes  # split_points keeps any file that is not multistream bz2 whole
        return split_units(paths, split, lambda f, size: split_points(f, size, split))

    def read(self, unit: Unit) -> StageResult:
        # Whole .bz2 files too (so a truncated one loses the same pages either way); a range is always bz2.
        if unit.path.endswith(".bz2") or unit.end is not None:
            return read_unit(self, unit, lambda f, rows: self._parse_bz2(f, unit, rows))
        return read_unit(self, unit, lambda f, rows: self._parse(f, unit.path, rows), compression="infer")

    def _parse_bz2(self, f: Any, unit: Unit, rows: Rows) -> None:
        src = range_xml(f, unit.start, unit.end)
        try:
            self._parse(src, unit.path, rows)
        except etree.XMLSyntaxError:
            if src.error is None:
                raise
        if src.error is not None:  # the decompression failure, not the unterminated XML it left
            raise src.error

    def _parse(self, f: Any, path: str, rows: Rows) -> None:
        keep_ns = {str(n) for n in (self.config.namespaces if self.config.namespaces is not None else [0])}
        lang, prefix, cleaner = "", "https://wikipedia.org/wiki/", WikitextCleaner()
        ctx = etree.iterparse(f, events=("end",), tag=("{*}page", "{*}siteinfo"), resolve_entities=False,
                              no_network=True, load_dtd=False, huge_tree=False, remove_comments=True)
        for _, elem in ctx:
            if _local(elem.tag) == "siteinfo":
                lang, prefix = site_base(_text(elem, "dbname"), _text(elem, "base"))
                nss = _child(elem, "namespaces")
                cleaner = WikitextCleaner({(n.text or "") for n in nss} if nss is not None else set())
            else:
                self._page(elem, keep_ns, lang, prefix, cleaner, rows)
            elem.clear()
            while elem.getprevious() is not None:  # drop processed siblings: constant memory
                del elem.getparent()[0]

    def _page(self, page: Any, keep_ns: set[str], lang: str, prefix: str, cleaner: WikitextCleaner,
              rows: Rows) -> None:
        title = _text(page, "title")
        rev = _child(page, "revision")
        url = prefix + quote(title.replace(" ", "_"), safe="/:()',!*$@;~-._")
        meta = {"title": title, "page_id": _text(page, "id"), "rev_id": _text(rev, "id"),
                "timestamp": _text(rev, "timestamp"), "ns": _text(page, "ns"), "wiki_lang": lang}
        if meta["ns"] not in keep_ns:
            return rows.drop("wiki:namespace", url, meta)
        if _child(page, "redirect") is not None:
            return rows.drop("wiki:redirect", url, meta)
        try:
            text = cleaner.clean(_text(rev, "text"))
        except Exception as e:  # mwparserfromhell on pathological markup
            return rows.error_from(e, url, meta)
        if len(text) < max(1, self.config.min_chars):
            return rows.drop("wiki:empty", url, meta)
        rows.keep(doc_id(self.source, url, text), url, text, meta)
