"""Wikitext -> clean prose with mwparserfromhell.

Templates, tables, refs, comments, categories, file/image links and interlanguage links are removed;
link text, headings and list items are kept as plain text lines.

Bound: mwparserfromhell's tokenizer (C, so no deadline can interrupt it) backtracks over every
construct left open, so a page of a few thousand unclosed ``{{x|``, ``[[``, ``{|``, ``[http`` or
``<ref>`` takes minutes. Before parsing, ``markup_depth`` measures how deep such constructs nest (each
kind counted separately, a stray closer never below zero); a page past ``max_depth`` raises
``MarkupTooDeep`` (the reader drops it as ``wiki:template_bound``). Real pages nest a few levels
(at most 8 in the ukwiki/jawiki/enwiki samples).
"""

from __future__ import annotations

import re

import mwparserfromhell
from mwparserfromhell.nodes import Argument, Comment, ExternalLink, Heading, HTMLEntity, Tag, Template, Text, Wikilink

from curate.sources.charset import to_lf

# Tags whose content is not prose.
DROP_TAGS = {
    "ref",
    "references",
    "table",
    "gallery",
    "math",
    "chem",
    "timeline",
    "imagemap",
    "score",
    "graph",
    "mapframe",
    "maplink",
    "templatestyles",
    "syntaxhighlight",
    "source",
    "hiero",
    "inputbox",
    "categorytree",
    "noinclude",
    "includeonly",
    "indicator",
    "style",
    "script",
    "abbr-title",
}
# Namespaces removed wherever the dump's siteinfo does not list them (canonical names and common aliases).
BASE_NAMESPACES = {
    "file",
    "image",
    "media",
    "category",
    "template",
    "wikipedia",
    "wp",
    "help",
    "portal",
    "user",
    "special",
    "module",
    "draft",
    "mediawiki",
    "datei",
    "bild",
    "kategorie",
    "fichier",
    "catégorie",
    "archivo",
    "categoría",
    "imagen",
    "файл",
    "изображение",
    "категория",
    "категорія",
    "зображення",
    "ファイル",
    "画像",
    "カテゴリ",
    "kategori",
    "lêer",
}
# Inline templates whose argument is prose (e.g. the bold title in {{読み仮名|'''地理学'''|ちりがく}}):
# name (lower-case, "_" as " "; prefix match when it ends with "*") -> the positional argument to keep.
KEEP_TEMPLATE_ARG = {
    "lang": 2,
    "lang-*": 1,
    "読み仮名*": 1,
    "nihongo": 1,
    "ruby": 1,
    "nowrap": 1,
    "nobr": 1,
    "transl": 2,
    "langx": 2,
}
_INTERWIKI = re.compile(r"^[a-z]{2,3}(-[a-z]{2,8})*$")
_MAGIC = re.compile(r"__[A-Z_]{3,30}__")
# Markup mwparserfromhell leaves as text when it is unbalanced (e.g. a newline inside a link title).
_LEFT_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_LEFT_LINK = re.compile(r"\[\[(?:[^\[\]|]*\|)?([^\[\]|]*)\]\]")
_LEFT_BRACES = re.compile(r"\{\{|\}\}|\[\[|\]\]")
# Openers and closers of the constructs mwparserfromhell backtracks over, one group per kind.
_MARKUP = re.compile(
    r"(\{\{)|(\}\})|(\[\[)|(\]\])|(\{\|)|(\|\})|(\[(?:[a-z]{2,10}:)?//)|(\])|"
    r"<(/?)([A-Za-z][\w-]{0,30})\b[^<>]{0,500}?(/?)>"
)
_VOID_TAGS = {
    "br",
    "hr",
    "img",
    "wbr",
    "meta",
    "link",
    "input",
    "col",
    "area",
    "base",
    "embed",
    "param",
    "source",
    "track",
    "references",
    "p",
    "li",
    "dt",
    "dd",
    "tr",
    "td",
    "th",
}
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")
_EMPTY_PARENS = re.compile(r"[ \t]*\([ \t,;:\u00a0]*\)")  # what is left of "(pronunciation template)"


class MarkupTooDeep(ValueError):
    """A page whose markup nests past the bound (see the module docstring)."""


def markup_depth(wikitext: str, stop: int | None = None) -> int:
    """The deepest total nesting of templates, links, tables, external links and paired tags (each kind
    its own counter); stops counting once ``stop`` is passed."""
    depth = [0] * 5  # templates, wikilinks, tables, external links, tags
    deepest = 0
    for m in _MARKUP.finditer(wikitext):
        g = m.lastindex or 0
        if g >= 9:  # a tag: <name ...>, </name>, <name/>
            if m.group(11) or m.group(10).lower() in _VOID_TAGS:
                continue
            k, step = 4, (-1 if m.group(9) else 1)
        else:
            k, step = (g - 1) // 2, (1 if g % 2 else -1)
        depth[k] = max(0, depth[k] + step)
        total = sum(depth)
        if total > deepest:
            deepest = total
            if stop is not None and deepest > stop:
                break
    return deepest


class WikitextCleaner:
    def __init__(self, namespaces: set[str] | None = None, max_depth: int = 100):
        self.namespaces = BASE_NAMESPACES | {n.lower() for n in (namespaces or set()) if n}
        self.max_depth = max_depth

    def _hidden_link(self, title: str) -> bool:
        if title.startswith(":"):  # [[:Category:X]] is a visible link
            return False
        prefix, colon, _ = title.partition(":")
        if not colon:
            return False
        prefix = prefix.strip().lower()
        return prefix in self.namespaces or bool(_INTERWIKI.match(prefix))

    def _template(self, node: Template) -> str:
        name = str(node.name).strip().lower().replace("_", " ")
        for key, idx in KEEP_TEMPLATE_ARG.items():
            if name == key or (key.endswith("*") and name.startswith(key[:-1])):
                return self._render(node.get(str(idx)).value) if node.has(str(idx)) else ""
        return ""

    def _render(self, code: mwparserfromhell.wikicode.Wikicode | None) -> str:
        if code is None:
            return ""
        out: list[str] = []
        for node in code.nodes:
            if isinstance(node, Text):
                out.append(node.value)
            elif isinstance(node, Template):
                out.append(self._template(node))
            elif isinstance(node, (Comment, Argument)):
                continue
            elif isinstance(node, HTMLEntity):
                out.append(node.normalize())
            elif isinstance(node, Heading):
                out.append("\n" + self._render(node.title).strip() + "\n")
            elif isinstance(node, Wikilink):
                title = str(node.title).strip()
                if self._hidden_link(title):
                    continue
                out.append(
                    self._render(node.text) if node.text is not None else title.lstrip(":").split("#")[0] or title
                )
            elif isinstance(node, ExternalLink):
                out.append(
                    self._render(node.title) if node.title is not None else ("" if node.brackets else str(node.url))
                )
            elif isinstance(node, Tag):
                tag = str(node.tag).strip().lower()
                if tag in DROP_TAGS:
                    continue
                if tag == "br":
                    out.append("\n")
                elif node.contents is not None and not node.self_closing:
                    out.append(self._render(node.contents))
        return "".join(out)

    def clean(self, wikitext: str) -> str:
        if self.max_depth and markup_depth(wikitext, self.max_depth) > self.max_depth:
            raise MarkupTooDeep(f"markup nests deeper than {self.max_depth}")
        text = _EMPTY_PARENS.sub("", _MAGIC.sub("", self._render(mwparserfromhell.parse(wikitext))))
        for _ in range(5):
            text, n = _LEFT_TEMPLATE.subn("", text)
            if not n:
                break
        text = _LEFT_BRACES.sub("", _LEFT_LINK.sub(r"\1", text))
        lines = [_SPACES.sub(" ", ln).strip() for ln in to_lf(text).split("\n")]  # &#13; reaches here as CR
        return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
