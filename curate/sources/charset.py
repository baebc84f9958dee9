"""Decode HTML bytes: charset from the HTTP header, then <meta charset>/http-equiv/XML declaration, then
UTF-8, then windows-1252, then UTF-8 with replacement. Returns which one was used."""
from __future__ import annotations

import codecs
import re

_META = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_XML = re.compile(rb"""<\?xml[^>]{0,100}?encoding\s*=\s*["']([A-Za-z0-9_.:-]{1,40})""", re.I)
_HEADER = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.I)
# WHATWG: these labels mean windows-1252 in browsers.
_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252",
            "ascii": "cp1252", "iso8859-1": "cp1252", "l1": "cp1252"}


def _norm(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # A byte-oriented page cannot really be UTF-16 if its declaration was readable as ASCII (WHATWG).
    return "utf-8" if name.startswith("utf-16") or name.startswith("utf-32") else name


def header_charset(content_type: str | None) -> str | None:
    m = _HEADER.search(content_type or "")
    return m.group(1) if m else None


def sniff_charset(data: bytes) -> str | None:
    """Charset declared inside the document (first 4 KiB): <meta charset>, http-equiv, or XML declaration."""
    head = data[:4096]
    m = _META.search(head) or _XML.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


def decode_html(data: bytes, content_type: str | None = None) -> tuple[str, str, str]:
    """Return (text, charset, how) where how is http|meta|bom|default|fallback|replace."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace"), "utf-8", "bom"
    for how, label in (("http", header_charset(content_type)), ("meta", sniff_charset(data))):
        cs = _norm(label)
        if cs:
            try:
                return data.decode(cs), cs, how
            except (UnicodeDecodeError, LookupError):
                pass
    for how, cs in (("default", "utf-8"), ("fallback", "cp1252")):
        try:
            return data.decode(cs), cs, how
        except UnicodeDecodeError:
            pass
    return data.decode("utf-8", "replace"), "utf-8", "replace"
