"""check_bounds from a gzip member's text that warcio has decompressed already gives the verdict of the
streaming check, which decompresses the member again, on real records and on real records whose length lies."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import curate.sources.warc as warc
from curate.sources.base import Unit
from curate.sources.warc import WarcReader, _archive, check_bounds


def _members(path: Path, n: int) -> list[bytes]:
    """The decompressed text of the first ``n`` gzip members of a real WARC (one record each)."""
    data, out, pos = path.read_bytes(), [], 0
    while pos < len(data) and len(out) < n:
        d = zlib.decompressobj(31)
        out.append(d.decompress(data[pos:]))
        pos = len(data) - len(d.unused_data)
    return out


def _lie(text: bytes, delta: int) -> bytes:
    """The record with its Content-Length off by ``delta`` (the bytes unchanged)."""
    head, sep, body = text.partition(b"\r\n\r\n")
    lines = [
        b"Content-Length: %d" % (int(line.split(b":")[1]) + delta) if line.startswith(b"Content-Length:") else line
        for line in head.split(b"\r\n")
    ]
    return b"\r\n".join(lines) + sep + body


def test_member_text_verdict_equals_streaming_check(corpus: Path) -> None:
    texts = _members(corpus / "web" / "pages.warc.gz", 12)
    # real records, each lying by a few bytes either way, and two records in one member (its second is `more`)
    variants = list(texts) + [_lie(t, d) for t in texts[:6] for d in (-3, 2, 10**6)]
    variants.append(texts[0] + texts[1])
    verdicts = set()
    for text in variants:
        f = io.BytesIO(gzip.compress(text, mtime=0) + gzip.compress(texts[-1], mtime=0))
        it = _archive(f)
        record = next(iter(it))
        member = it.reader.member_text(0)
        assert member == text  # warcio had read the whole member when it gave the record
        streaming = check_bounds(f, 0, True, record)
        assert check_bounds(f, 0, True, record, member) == streaming
        verdicts.add(streaming)
    assert verdicts == {(True, False), (False, False), (True, True)}  # agreeing, lying, several in one member


def test_member_text_only_for_a_member_read_to_its_end(corpus: Path) -> None:
    text = _members(corpus / "web" / "pages.warc.gz", 1)[0]
    f = io.BytesIO(gzip.compress(text, mtime=0)[:-20])  # cut inside the member: never read to its end
    it = _archive(f)
    next(iter(it))
    assert it.reader.member_text(0) is None
    assert it.reader.member_text(1) is None


def test_reader_output_unchanged_on_real_warc(corpus: Path, monkeypatch) -> None:
    """The whole corpus WARC reads the same with the member text handed over as without it."""
    path = str(corpus / "web" / "pages.warc.gz")
    reader = WarcReader("web", "web")
    res = reader.read(Unit(path))
    monkeypatch.setattr(warc, "check_bounds", lambda f, off, gz, record, member=None: check_bounds(f, off, gz, record))
    again = reader.read(Unit(path))
    assert res.kept.equals(again.kept) and res.kept.num_rows == 256
    assert res.dropped.equals(again.dropped) and res.errors.equals(again.errors)
