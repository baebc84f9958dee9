"""Wikitext -> clean prose with mwparserfromhell.

Templates, tables, refs, comments, categories, file/image links and interlanguage links are removed;
link text, headings and list items are kept as plain text lines.
"""
from __future__ import annotations

import re

import mwparserfromhell
from mwparserfromhell.nodes import (Argument, Comment, ExternalLink, Heading, HTMLEntity, Tag, Template, Text,
                                    Wikilink)

# Tags whose content is not prose.
DROP_TAGS = {"ref", "references", "table", "gallery", "math", "chem", "timeline", "imagemap", "score", "graph",
             "mapframe", "maplink", "templatestyles", "syntaxhighlight", "source", "hiero", "inputbox",
             "categorytree", "noinclude", "includeonly", "indicator", "style", "script", "abbr-title"}
# Namespaces removed wherever the dump's siteinfo does not list them (canonical names and common aliases).
BASE_NAMESPACES = {"file", "image", "media", "category", "template", "wikipedia", "wp", "help", "portal", "user",
                   "special", "module", "draft", "mediawiki", "datei", "bild", "kategorie", "fichier",
                   "catégorie", "archivo", "categoría", "imagen", "файл", "изображение", "категория", "категорія",
                   "зображення", "ファイル", "画像", "カテゴリ", "kategori", "lêer", "kategorie"}
# Inline templates whose argument is prose (e.g. the bold title in {{読み仮名|'''地理学'''|ちりがく}}):
# name (lower-case, "_" as " "; prefix match when it ends with "*") -> the positional argument to keep.
KEEP_TEMPLATE_ARG = {"lang": 2, "lang-*": 1, "読み仮名*": 1, "nihongo": 1, "ruby": 1, "nowrap": 1, "nobr": 1,
                     "transl": 2, "langx": 2}
_INTERWIKI = re.compile(r"^[a-z]{2,3}(-[a-z]{2,8})*$")
_MAGIC = re.compile(r"__[A-Z_]{3,30}__")
# Markup mwparserfromhell leaves as text when it is unbalanced (e.g. a newline inside a link title).
_LEFT_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_LEFT_LINK = re.compile(r"\[\[(?:[^\[\]|]*\|)?([^\[\]|]*)\]\]")
_LEFT_BRACES = re.compile(r"\{\{|\}\}|\[\[|\]\]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")
_EMPTY_PARENS = re.compile(r"[ \t]*\([ \t,;:\u00a0]*\)")  # what is left of "(pronunciation template)"


class WikitextCleaner:
    def __init__(self, namespaces: set[str] | None = None):
        self.namespaces = BASE_NAMESPACES | {n.lower() for n in (namespaces or set()) if n}

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
                out.append(self._render(node.text) if node.text is not None
                           else title.lstrip(":").split("#")[0] or title)
            elif isinstance(node, ExternalLink):
                out.append(self._render(node.title) if node.title is not None else
                           ("" if node.brackets else str(node.url)))
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
        text = _EMPTY_PARENS.sub("", _MAGIC.sub("", self._render(mwparserfromhell.parse(wikitext))))
        for _ in range(5):
            text, n = _LEFT_TEMPLATE.subn("", text)
            if not n:
                break
        text = _LEFT_BRACES.sub("", _LEFT_LINK.sub(r"\1", text))
        lines = [_SPACES.sub(" ", ln).strip() for ln in text.split("\n")]
        return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
