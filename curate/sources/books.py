"""Plain-text books: one document per file, Project Gutenberg header, footer and licence removed.

Decoding: a byte order mark decides (UTF-8, UTF-16LE, UTF-16BE), else UTF-8, else windows-1252, else
latin-1 (never fails); CRLF/CR -> LF. The PG body is
what lies between the ``*** START OF (THE|THIS) PROJECT GUTENBERG EBOOK ...`` line (any spacing, with or
without the space after ``***``) and the ``*** END OF ...`` line (possibly indented); an
``End of (the) Project Gutenberg ...`` line and a ``Produced by ...`` paragraph at the edges go too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import BinaryIO

from curate.config import bounds
from curate.schema import doc_id
from curate.sources._util import Rows, Sink, read_unit
from curate.sources.base import Reader, Unit
from curate.sources.charset import to_lf, unicode_codec
from curate.sources.idnames import id_name
from curate.stage import StageResult

_START = re.compile(r"^[ \t]*\*{3}[ \t]*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK[^\n]*$", re.I | re.M)
_END = re.compile(r"^[ \t]*\*{3}[ \t]*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK[^\n]*$", re.I | re.M)
_END_LINE = re.compile(r"^[ \t]*End of (?:the )?Project Gutenberg[^\n]*$", re.I | re.M)
_PRODUCED = re.compile(r"\A\s*(?:Produced by|E-?text prepared by)[^\n]*(?:\n[^\n]+)*\n", re.I)
_FIELD = re.compile(r"^(Title|Author|Language):[ \t]*(.+(?:\n[ \t]+\S.*)*)", re.M)
_EBOOK_NO = re.compile(r"\[E-?Book #(\d+)\]", re.I)


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding) with CRLF normalised."""
    found = unicode_codec(data)
    if found:
        codec, skip = found
        text, enc = data[skip:].decode(codec, "replace"), "utf-8-sig" if codec == "utf-8" else codec
    else:
        for enc in ("utf-8", "cp1252", "latin-1"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
    return to_lf(text), enc


def strip_gutenberg(text: str) -> tuple[str, dict[str, str]]:
    """(body, meta) where meta has title/author/language/pg_number found in the PG header."""
    start = _START.search(text)
    if not start:
        return text.strip(), {"pg_markers": "0"}
    header, body = text[: start.start()], text[start.end() :]
    meta = {"pg_markers": "1"}
    for key, value in _FIELD.findall(header):
        meta[key.lower()] = " ".join(value.split())
    if m := _EBOOK_NO.search(header):
        meta["pg_number"] = m.group(1)
    end = _END.search(body)
    if end:
        body = body[: end.start()]
    else:
        meta["pg_markers"] = "start_only"
    tail = list(_END_LINE.finditer(body))
    if tail and len(body) - tail[-1].start() < 2000:  # only the closing line, never a sentence inside the text
        body = body[: tail[-1].start()]
    return _PRODUCED.sub("", body, count=1).strip(), meta


class BooksReader(Reader):
    format = "text"

    @dataclass
    class Config:
        strip_gutenberg: bool = True
        min_chars: int = field(default=1, metadata=bounds(ge=0))  # shorter books are dropped (books:empty)
        max_bytes: int = field(default=256 << 20, metadata=bounds(ge=1))  # larger files are dropped (books:oversized)
        retries: int = field(default=4, metadata=bounds(ge=1))
        retry_backoff_s: float = field(default=0.5, metadata=bounds(ge=0))

    def read(self, unit: Unit, sink: Sink | None = None) -> StageResult:
        return read_unit(
            self, unit, lambda f, rows: self._book(unit.path, self._bytes(f), rows), compression="infer", sink=sink
        )

    def _bytes(self, f: BinaryIO) -> bytes:
        data = f.read(self.config.max_bytes + 1)
        if len(data) <= self.config.max_bytes:
            f.read()  # at the end: raises here when a compressed file is cut or corrupt after these bytes
        return data

    def _book(self, path: str, data: bytes, rows: Rows) -> None:
        meta: dict[str, str] = {"file": os.path.basename(path.rstrip("/"))}
        if len(data) > self.config.max_bytes:
            return rows.drop("books:oversized", path, meta)
        if b"\x00" in data[:8192] and (unicode_codec(data) or ("utf-8",))[0] == "utf-8":  # NULs, not UTF-16
            return rows.drop("books:binary", path, meta)
        text, meta["encoding"] = decode_text(data)
        if self.config.strip_gutenberg:
            text, pg = strip_gutenberg(text)
            meta.update(pg)
        if len(text.strip()) < max(1, self.config.min_chars):
            return rows.drop("books:empty", path, meta)
        rows.keep(doc_id(self.source, id_name(path), text), path, text, meta)
