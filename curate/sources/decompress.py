"""Streaming decompression of inputs (.gz, .bz2, .xz/.lzma, .zst) that loses nothing silently.

The standard wrappers each lose records: ``gzip``/``bz2``/``lzma`` files drop what one ``read`` had
decoded when the data turns out cut or corrupt (up to a read's worth of complete lines), and fsspec's
zstd reader stops after the first frame and says nothing when the file ends inside one. Here:

- every member, stream or frame is read (concatenated gzip members, multistream bz2/xz, multi-frame zstd);
- every byte decoded before corrupt or cut data is returned first, and the failure is raised on the next
  read (a file that ends inside a member raises EOFError), so a reader counts the records before it;
- output per step is bounded (a decompression bomb streams through in constant memory).
"""

from __future__ import annotations

import bz2
import lzma
import os
import zlib
from typing import Any, BinaryIO

KINDS = ("gzip", "bz2", "xz", "lzma", "zstd")
# a file name's extension -> its compression, named as fsspec's ``infer_compression`` names it (``.zip`` too,
# which readers refuse): here, so that reading local files imports no fsspec (with warcio's probe hidden:
# about 5 MB and 0.06 CPU-s less per process that reads, measured); tests/sources/test_compression_of.py
# checks that the two agree
EXTENSIONS = {"gz": "gzip", "bz2": "bz2", "xz": "xz", "lzma": "lzma", "zst": "zstd", "zip": "zip"}
_IN = 1 << 16
_OUT = 1 << 20
_ZSTD_IN = 1 << 10  # zstd output cannot be capped per call: feed little (an RLE block expands ~32k times)


def compression_of(path: str) -> str | None:
    """The compression ``path``'s extension names (``EXTENSIONS``), or None."""
    return EXTENSIONS.get(os.path.splitext(path)[-1].strip(".").lower())


class BadCompressedData(ValueError):
    """Compressed data that does not decode (garbage, a lying extension, corruption): names the format."""


class _Bad(Exception):
    """A failure of the compressed data (not of reading the file), deferred until decoded bytes are out."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def _decompressor(kind: str) -> Any:
    if kind == "gzip":
        return zlib.decompressobj(31)
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    if kind in ("xz", "lzma"):
        return lzma.LZMADecompressor()
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


class Decompressed:
    """``read(n)`` over the decompressed bytes of ``raw`` (see the module docstring)."""

    def __init__(self, raw: BinaryIO, kind: str):
        self.raw, self.kind = raw, kind
        self.d = _decompressor(kind)
        self.tail = b""  # compressed bytes read but not yet consumed
        self.fed = False  # the current member has had input (an empty file is no member at all)
        self.buf = bytearray()
        self.error: BaseException | None = None
        self.done = False

    def _next_member(self) -> bool:
        """After a member's end: start the next one (False when the file holds no more)."""
        rest = self.d.unused_data + self.tail
        while True:
            if self.kind == "gzip":
                rest = rest.lstrip(b"\0")  # zero padding after the last member, as gzip(1) allows
            if rest:
                break
            rest = self.raw.read(_IN)
            if not rest:
                return False
        self.d, self.tail, self.fed = _decompressor(self.kind), rest, False
        return True

    def _step(self) -> bytes:
        """The next decompressed bytes; b"" at the clean end of the last member."""
        while True:
            if self.d.eof and not self._next_member():
                return b""
            holding = self.kind in ("bz2", "xz", "lzma") and not self.d.needs_input  # output held back by the cap
            data = b""
            if not holding:
                data = self.tail or self.raw.read(_IN)  # a failing read of the file is raised as it is
                self.tail = b""
                if not data:
                    if self.fed:
                        raise _Bad(EOFError("compressed file ended before the end-of-stream marker was reached"))
                    return b""  # an empty file
                self.fed = True
            try:
                if self.kind == "zstd":
                    data, self.tail = data[:_ZSTD_IN], data[_ZSTD_IN:]
                    out = self.d.decompress(data)
                else:
                    out = self.d.decompress(data, _OUT)
                    if self.kind == "gzip":
                        self.tail = self.d.unconsumed_tail
            except Exception as e:  # corrupt data
                raise _Bad(BadCompressedData(f"not valid {self.kind} data: {e}")) from e
            if out:
                return out

    def read(self, n: int | None = -1) -> bytes:
        want = n if n is not None and n >= 0 else None
        while (want is None or len(self.buf) < want) and self.error is None and not self.done:
            try:
                chunk = self._step()
            except _Bad as bad:
                self.error = bad.error
                break
            if not chunk:
                self.done = True
            self.buf += chunk
        if not self.buf and self.error is not None:
            error, self.error = self.error, None
            self.done = True
            raise error
        k = len(self.buf) if want is None else min(want, len(self.buf))
        out = bytes(self.buf[:k])
        del self.buf[:k]
        return out

    def close(self) -> None:
        self.buf = bytearray()
