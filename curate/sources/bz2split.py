"""Byte-range work units for bz2 *multistream* MediaWiki dumps (``pages-articles-multistream.xml.bz2``).

Such a dump is a concatenation of independent bz2 streams: the first holds ``<mediawiki ...><siteinfo>``,
each later one ~100 whole ``<page>`` elements (the last also ``</mediawiki>``). A stream start is
byte-aligned: ``BZh`` + level digit + block magic ``1AY&SY``. A candidate counts as a split point only when
its first decompressed bytes are ``<page`` (so a pbzip2 file, whose streams cut pages anywhere, is never
split mid-page). A range is read as: header stream (if the range does not start at 0) + the range's
streams + ``</mediawiki>`` (if the range does not reach the end of the file), which parses like the file.
"""

from __future__ import annotations

import bz2
import re
from collections.abc import Iterator
from typing import BinaryIO

from curate.sources._util import ByteRange, transient_errors

_MAGIC = re.compile(rb"BZh[1-9]1AY&SY")
_SCAN_CHUNK = 1 << 20
_IN_CHUNK = 64 << 10
_OUT_CHUNK = 1 << 20
_PAGE_CLOSE = b"</page>"
_MAX_HEADER = 4 << 20  # siteinfo is a few KiB; a first stream bigger than this is not a header-only one


def _decompress_head(f: BinaryIO, pos: int, want: int, max_in: int) -> tuple[bytes, bool]:
    """Up to ``want`` decompressed bytes of the bz2 stream at ``pos`` (reading at most ``max_in`` bytes)
    and whether that stream ended. Invalid data gives (b"", False)."""
    f.seek(pos)
    d, out, read = bz2.BZ2Decompressor(), bytearray(), 0
    try:
        while len(out) < want and not d.eof and read < max_in:
            block = f.read(_IN_CHUNK)
            if not block:
                break
            read += len(block)
            out += d.decompress(block, want - len(out))
            while not d.needs_input and not d.eof and len(out) < want:
                out += d.decompress(b"", want - len(out))
    except (OSError, EOFError, ValueError):
        return b"", False
    return bytes(out), d.eof


def header(f: BinaryIO) -> tuple[bytes, bool]:
    """(prefix, page_aligned): the file's first stream cut after ``</siteinfo>`` (the ``<mediawiki>``
    opening tag and siteinfo, to put before a range that starts mid-file) and whether that stream holds
    nothing else, i.e. the file is a Wikimedia-style page-aligned multistream dump."""
    data, ended = _decompress_head(f, 0, _MAX_HEADER, _MAX_HEADER)
    end = data.find(b"</siteinfo>")
    if end != -1:
        end += len(b"</siteinfo>")
        return data[:end], ended and not data[end:].strip()
    m = re.search(rb"<mediawiki\b[^>]*>", data)
    return (data[: m.end()] if m else b"<mediawiki>"), False


def is_page_stream(f: BinaryIO, pos: int) -> bool:
    """True when a valid bz2 stream starts at ``pos`` and its text starts with a ``<page`` element."""
    head, _ = _decompress_head(f, pos, 64, 4 << 20)  # output comes per block: up to ~1 MiB of input
    return head.lstrip().startswith(b"<page")


def find_stream_start(f: BinaryIO, pos: int) -> int | None:
    """Offset of the first page-aligned stream starting at or after ``pos`` (None: none before EOF)."""
    while True:
        f.seek(pos)
        chunk = f.read(_SCAN_CHUNK + 9)
        for m in _MAGIC.finditer(chunk):
            if m.start() < _SCAN_CHUNK and is_page_stream(f, pos + m.start()):
                return pos + m.start()
        if len(chunk) <= _SCAN_CHUNK:
            return None
        pos += _SCAN_CHUNK


def split_points(f: BinaryIO, size: int, split_bytes: int) -> list[int]:
    """Unit starts: 0, then the first page-aligned stream at/after each multiple of ``split_bytes``;
    ``[0]`` when the file is not a page-aligned multistream dump."""
    f.seek(0)
    if f.read(3) != b"BZh" or size <= split_bytes or not header(f)[1]:
        return [0]
    starts = [0]
    for k in range(1, size // split_bytes + 1):
        s = find_stream_start(f, max(k * split_bytes, starts[-1] + 1))
        if s is None:
            break  # nothing further on: later multiples would rescan the same tail
        starts.append(s)
    return starts


def _decompress_streams(raw: ByteRange) -> Iterator[bytes | None]:
    """Decompressed text of consecutive bz2 streams, then None. Unlike ``bz2.BZ2File`` (whose buffered
    reader drops what one ``read`` call had gathered when the next raw read fails) every byte decoded
    before a truncation or corruption is yielded before the error is raised."""
    d = bz2.BZ2Decompressor()
    while True:
        if d.eof:
            chunk = d.unused_data or raw.read(_IN_CHUNK)
            if not chunk:
                yield None
                return
            d = bz2.BZ2Decompressor()
        else:
            chunk = raw.read(_IN_CHUNK)
            if not chunk:
                raise EOFError("compressed file ended before the end-of-stream marker was reached")
        yield d.decompress(chunk, _OUT_CHUNK)  # bounded output: a decompression bomb streams through
        while not d.needs_input and not d.eof:
            yield d.decompress(b"", _OUT_CHUNK)


class RangeXml:
    """A file-like ``read`` over prefix + the decompressed streams in [start, end) + suffix, in order.
    Text is released only up to the last complete ``</page>``; on a decompression failure (truncated or
    corrupt data) the partial page is discarded, ``</mediawiki>`` closes the document and the failure is
    kept in ``error`` for the caller to raise. So a range and the whole file lose exactly the same pages,
    whatever the read sizes or the XML parser's look-ahead. A page longer than ``hold`` bytes (one the
    reader drops as oversized) is not held: its bytes are released as they come, and on a failure inside
    it ``</page>`` closes it, so it is still the one drop. Memory: ``hold`` plus a decompressed block."""

    def __init__(
        self,
        f: BinaryIO,
        start: int,
        end: int | None,
        prefix: bytes = b"",
        suffix: bytes = b"",
        hold: int | None = None,
    ):
        self.stream = _decompress_streams(ByteRange(f, start, end))
        self.pending, self.ready, self.suffix = bytearray(prefix), bytearray(), suffix
        self.hold = hold
        self.released = False  # part of an unfinished (oversized) page was released
        self.done = False
        self.error: Exception | None = None
        self.scanned = 0  # bytes searched for a page end: linear in the text, whatever the page sizes
        self.peak = 0  # most bytes held back at once

    def _fill(self) -> None:
        while not self.ready and not self.done:
            try:
                data = next(self.stream, b"")
            except transient_errors():
                raise
            except Exception as e:
                self.error, self.done = e, True
                # no partial page released: a syntax error the caller ignores; else its end, then the document's
                self.ready += (_PAGE_CLOSE if self.released else b"") + b"</mediawiki>"
                self.pending.clear()
                return
            if data is None:
                self.ready += self.pending + self.suffix
                self.pending.clear()
                self.done = True
                return
            self.pending += data
            self.peak = max(self.peak, len(self.pending))
            # only the new bytes (and a tag split across chunks) are searched: a page is scanned once
            start = max(0, len(self.pending) - len(data) - len(_PAGE_CLOSE) + 1)
            self.scanned += len(self.pending) - start
            cut = self.pending.rfind(_PAGE_CLOSE, start)
            if cut != -1:
                cut += len(_PAGE_CLOSE)
                self.released = False
            elif self.hold is not None and len(self.pending) > self.hold + len(_PAGE_CLOSE):
                cut = len(self.pending) - len(_PAGE_CLOSE) + 1  # keep what could start the closing tag
                self.released = True
            if cut != -1:
                self.ready += self.pending[:cut]
                del self.pending[:cut]

    def read(self, n: int = -1) -> bytes:
        n = n if n and n > 0 else 1 << 16
        self._fill()
        out = bytes(self.ready[:n])
        del self.ready[:n]
        return out


def range_xml(f: BinaryIO, start: int, end: int | None, hold: int | None = None) -> RangeXml:
    """The XML text of unit [start, end) of a page-aligned multistream dump, parseable on its own (pages
    over ``hold`` bytes are streamed, see ``RangeXml``)."""
    prefix = header(f)[0] if start > 0 else b""
    return RangeXml(f, start, end, prefix, b"</mediawiki>" if end is not None else b"", hold)
