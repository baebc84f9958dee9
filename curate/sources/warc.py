"""WARC / WARC.gz / WET / ARC reader (warcio).

HTTP 200 HTML ``response`` records become documents holding the decoded HTML (the ``extract`` stage turns
it into main text); WET ``conversion`` records become documents directly (``meta.extracted=1``). Every
other record is dropped with a reason; a broken record is an error, after which reading resumes at the
next record start, so one garbled record does not lose the rest of the file.

Record boundaries are cross-checked on local files: a record's ``Content-Length`` must end it exactly
where the next record (``WARC/``) or the end of the file begins (for ``.warc.gz``, where its gzip member
ends). A record whose length lies (or is missing, negative or not a number, or runs past the end of the
file while another record follows) is an error (``warc:length_mismatch``) and reading resumes at the next
real record start, so a lying record can neither swallow the next one nor leave its tail to be parsed
as phantom records. A gzip member holding several records (a whole WARC gzipped, or a few records per
member) is read in one pass over its text, each record once, and reading goes on at the next member. HTTP
``Content-Encoding`` (gzip, deflate, br) is decoded here with bounded output; an undecodable body is
dropped (``content:bad_encoding``), an unknown coding too
(``content_encoding:<name>``). A document id is made from the file path and the record's offset (the
``WARC-Record-ID`` is kept in meta), so a record repeated in a crawl never gives two documents one id.

Files are split into record-aligned byte ranges (``units``; about ``ranges`` per source, see
``curate.sources.base.range_step``): from every step offset we scan forward for the next place where a
record provably starts, and a range reads the records that start inside it, so separate tasks read one
file in parallel and the union of their outputs is exactly the output of reading it whole. For a
``.warc.gz``, that is a gzip member of whole WARC records (one, as Common Crawl writes them, or a few),
each ending where its Content-Length says, followed by another member or the end of the file; for an
uncompressed WARC, a record header after a blank line whose Content-Length ends it where the next record
or the file does. A file whose first record is not such (a whole-file gzip, a member cut mid-record, an
ARC file) stays one unit, said with ``CURATE_DEBUG=1``; a damaged record (a lying length, a cut member)
is never a cut, so the range before it reads and counts it, as a whole read does.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import brotli

from curate.lean import hidden

# warcio probes for fsspec as it is imported, for its command-line tools alone: this reader opens its inputs
# itself (curate.sources.safe), and a process that reads local WARCs then loads no fsspec at all
with hidden("fsspec"):
    from warcio.archiveiterator import ArchiveIterator
    from warcio.bufferedreaders import ChunkedDataReader, DecompressingBufferedReader
    from warcio.exceptions import ArchiveLoadFailed

from curate.config import bounds
from curate.schema import doc_id
from curate.sources._util import Rows, Sink, read_unit, transient_errors
from curate.sources.base import Reader, Unit, debug, split_units
from curate.sources.charset import decode_html
from curate.sources.idnames import id_location
from curate.sources.safe import is_local
from curate.stage import StageResult

HTML_TYPES = ("text/html", "application/xhtml+xml")
_GZ_MAGIC = b"\x1f\x8b\x08"
_PLAIN_MAGIC = b"\r\n\r\nWARC/1."
_SCAN_CHUNK = 1 << 20


def _is_gzip(f: BinaryIO) -> bool:
    f.seek(0)
    return f.read(3) == _GZ_MAGIC


def _gzip_member_is_record(f: BinaryIO, pos: int) -> bool:
    f.seek(pos)
    try:
        head = zlib.decompressobj(31).decompress(f.read(4096), 16)
    except zlib.error:
        return False
    return head.startswith(b"WARC/") or head[:1].isalnum()  # ARC records start with the URL line


def find_record_start(f: BinaryIO, pos: int, gz: bool, limit: int | None = None) -> int | None:
    """The offset of the first record starting at or after ``pos`` (None: none before EOF/``limit``)."""
    magic = _GZ_MAGIC if gz else _PLAIN_MAGIC
    while limit is None or pos < limit:
        f.seek(pos)
        chunk = f.read(_SCAN_CHUNK + len(magic))
        if not chunk:
            return None
        i = chunk.find(magic)
        while i != -1 and i < _SCAN_CHUNK:
            cand = pos + i
            if not gz:
                return cand + 4  # after the blank line that ends the previous record
            if _gzip_member_is_record(f, cand):
                return cand
            i = chunk.find(magic, i + 1)
        if len(chunk) <= _SCAN_CHUNK:
            return None
        pos += _SCAN_CHUNK
    return None


_MAX_CUT_RECORD = 64 << 20  # a cut candidate member's text inflated to check it; a larger member is no cut


def _content_length(header: bytes) -> int | None:
    """The Content-Length of a WARC record header block (its lines after ``WARC/1.x``), None when absent
    or not a plain number."""
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            value = value.strip()
            return int(value) if value.isdigit() else None
    return None


class _RecordWalk:
    """Fed a gzip member's text in pieces, checks that it is whole WARC records back to back: each a
    ``WARC/1.x`` header whose Content-Length (plus the closing CRLF CRLF) ends it where the next record or
    the text begins. Searches the pieces in place (a header cut between two pieces is the only copy), so
    its time is linear in the text whatever the records' sizes."""

    def __init__(self) -> None:
        self.head, self.skip, self.records, self.ok = b"", 0, 0, True

    def feed(self, text: bytes) -> None:
        if self.head:
            text, self.head = self.head + text, b""
        i = 0
        while i < len(text) and self.ok:
            if self.skip:
                k = min(self.skip, len(text) - i)
                self.skip, i = self.skip - k, i + k
                continue
            blank = text.find(b"\r\n\r\n", i, i + MAX_HEADER_LINE)
            if blank < 0:  # a header going on in the next piece, unless it is no header or too long
                rest = text[i : i + MAX_HEADER_LINE]
                self.ok = len(rest) < MAX_HEADER_LINE and rest[:7] == b"WARC/1."[: len(rest)]
                self.head = rest
                return
            length = _content_length(text[i:blank]) if text.startswith(b"WARC/1.", i) else None
            if length is None:
                self.ok = False
                return
            self.records += 1
            self.skip = blank + 4 + length + 4 - i

    def whole(self) -> bool:
        """Whether the text fed so far ends exactly after a record."""
        return self.ok and self.records > 0 and not self.skip and not self.head


def _record_member_end(f: BinaryIO, pos: int) -> int | None:
    """Where the gzip member at ``pos`` ends when its text is whole WARC records (``_RecordWalk``; one, as
    Common Crawl writes them, or a few) and another gzip member or the end of the file follows it; None
    otherwise (not a member, a cut or corrupt one, a lying length, over ``_MAX_CUT_RECORD`` of text: a
    whole-file gzip)."""
    member, walk, size = _Member(f, pos), _RecordWalk(), 0
    try:
        while member.end is None and walk.ok and size <= _MAX_CUT_RECORD:
            text = member.read(1 << 20)
            size += len(text)
            walk.feed(text)
    except (EOFError, zlib.error, OSError):
        return None
    if member.end is None or not walk.whole():
        return None
    f.seek(member.end)
    return member.end if f.read(3) in (b"", _GZ_MAGIC) else None


def _plain_record_end(f: BinaryIO, pos: int, size: int) -> int | None:
    """Where the uncompressed record at ``pos`` ends (after its closing CRLF CRLF) when its header parses
    and its Content-Length ends it at the next ``WARC/1.`` or at the end of the file; else None."""
    f.seek(pos)
    head = f.read(1 << 16)
    blank = head.find(b"\r\n\r\n")
    if not head.startswith(b"WARC/1.") or blank < 0:
        return None
    length = _content_length(head[:blank])
    if length is None:
        return None
    end = pos + blank + 4 + length + 4
    f.seek(end - 4)
    tail = f.read(4 + 7)
    return end if tail[:4] == b"\r\n\r\n" and (end == size or tail[4:] == b"WARC/1.") else None


def _next_cut(f: BinaryIO, pos: int, limit: int, gz: bool, size: int) -> int | None:
    """The first offset in [pos, limit) where a checked record starts (see the module docstring)."""
    magic = _GZ_MAGIC if gz else _PLAIN_MAGIC
    while pos < limit:
        f.seek(pos)
        chunk = f.read(min(_SCAN_CHUNK, limit - pos) + len(magic) - 1)
        i = chunk.find(magic)
        while i != -1 and pos + i < limit:
            cand = pos + i + (0 if gz else 4)  # a plain record starts after the blank line before it
            if (_record_member_end(f, cand) if gz else _plain_record_end(f, cand, size)) is not None:
                return cand
            i = chunk.find(magic, i + 1)
        pos += _SCAN_CHUNK
    return None


def record_cuts(f: BinaryIO, size: int, step: int) -> list[int]:
    """0, then in each window [k*step, (k+1)*step) the first checked record start (a window without one
    adds no cut, so each byte is scanned once; the last window runs to the end of the file, so no range is
    much under ``step``); ``[0]`` when the file's first record is not a checked one."""
    gz = _is_gzip(f)
    name = getattr(f, "name", "a WARC file")
    first = _record_member_end(f, 0) if gz else _plain_record_end(f, 0, size)
    if first is None:
        kind = "a gzip member of whole WARC records" if gz else "an uncompressed WARC record"
        debug(
            f"{name}: one unit: its first record is not in {kind} (a whole-file gzip over "
            f"{_MAX_CUT_RECORD >> 20} MiB of text, a member cut mid-record, ARC or damaged)"
        )
        return [0]
    cuts = [0]
    windows = size // step
    for k in range(1, windows):
        s = _next_cut(f, max(k * step, cuts[-1] + 1), size if k == windows - 1 else (k + 1) * step, gz, size)
        if s is not None:
            cuts.append(s)
    if len(cuts) == 1:
        debug(
            f"{name}: one unit: no record start checks out after offset 0 (a whole-file gzip, or members "
            f"over {_MAX_CUT_RECORD >> 20} MiB of text)"
        )
    return cuts


def _truncated(record: Any) -> bool:
    """True when the file ended before the record's Content-Length (warcio yields the partial payload)."""
    return getattr(record.raw_stream, "limit", 0) > 0


MAX_HEADER_LINE = 1 << 20
_TAIL = 64  # bytes looked at after a record's declared end
_HELD_MEMBER = 8 << 20  # a larger gzip member's text is not kept: check_bounds decompresses it again
_BLOCK = 1 << 16  # compressed bytes per warcio read, as check_bounds reads: most members end inside one read


class Skip(Exception):
    """A record dropped with ``reason`` while reading its payload."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _after_end(tail: bytes) -> bool:
    """Whether ``tail`` (the bytes from a record's declared end) is the record's closing CRLFs followed by
    the next record or by nothing."""
    rest = tail.lstrip(b"\r\n")
    return tail[:1] in (b"\r", b"") and (rest.startswith(b"WARC/") or not rest)


def _declared_end(head: bytes, record: Any) -> int | None:
    """Offset, from the record start, where its Content-Length says the content ends."""
    blank = head.find(b"\r\n\r\n")
    length = record.rec_headers.get_header("Content-Length")
    if blank < 0 or not (length or "").strip().isdigit():
        return None
    return blank + 4 + int(length)


def _member_bounds(text: bytes, record: Any) -> tuple[bool, bool] | None:
    """``check_bounds`` of a gzip record from the whole text of its member (which warcio has decompressed
    already): the same verdict as the streaming check, which sees the header only within its first
    ``MAX_HEADER_LINE`` bytes; None (let the streaming check decide) for a header block beyond that."""
    blank = text.find(b"\r\n\r\n")
    if blank < 0 or blank + 4 > MAX_HEADER_LINE:
        return None
    end = _declared_end(text, record)
    rid = (record.rec_headers.get_header("WARC-Record-ID") or "").encode("utf-8", "replace")
    if end is None or rid not in text[:blank]:
        return True, False  # not the first record of its member: nothing to check
    if len(text) < end:
        return False, False  # the member ended before the declared length: it is too long
    tail = text[end : end + _TAIL]
    return not tail or _after_end(tail), tail.lstrip(b"\r\n").startswith(b"WARC/")


def check_bounds(f: BinaryIO, off: int, gz: bool, record: Any, member: bytes | None = None) -> tuple[bool, bool]:
    """(whether the record's Content-Length agrees with the bytes, see the module docstring; whether another
    record follows it inside its gzip member: a member of several records, which warcio cannot read record
    by record). ``member``: the whole decompressed text of the gzip member starting at ``off``, when the
    caller has it (then nothing is decompressed twice). Leaves the file position as it was (warcio reads on
    from it)."""
    length = record.rec_headers.get_header("Content-Length")
    if length is not None and not length.strip().isdigit():
        return False, False  # negative, empty or not a number: warcio misreads the record (and counts it twice)
    if gz and member is not None:
        verdict = _member_bounds(member, record)
        if verdict is not None:
            return verdict
    here = f.tell()
    try:
        f.seek(off)
        if not gz:
            head = f.read(1 << 14)
            if b"\r\n\r\n" not in head:
                head += f.read(MAX_HEADER_LINE)
            end = _declared_end(head, record)
            if end is None:
                return False, False  # no usable length: warcio would read the records after it as its body
            if off + end >= f.seek(0, 2):  # it claims bytes up to or past the end of the file: a cut last
                return find_record_start(
                    f, off + 1, False
                ) is None, False  # record (warc:truncated), unless one follows
            f.seek(off + end)
            return _after_end(f.read(_TAIL)), False
        d, head, tail, size, end = zlib.decompressobj(31), b"", b"", 0, None
        while not d.eof and len(tail) < _TAIL:  # the record's text from its member; stop past its end
            block = f.read(1 << 16)
            if not block:
                return True, False  # the file ends inside this member: warc:truncated decides
            out = d.decompress(block)
            if end is None:
                head += out
                if b"\r\n\r\n" not in head and len(head) < MAX_HEADER_LINE:
                    continue
                rid = (record.rec_headers.get_header("WARC-Record-ID") or "").encode("utf-8", "replace")
                end = _declared_end(head, record)
                if end is None or rid not in head[: head.find(b"\r\n\r\n")]:
                    return True, False  # not the first record of its member: nothing to check
                out = head
            if size + len(out) > end:
                tail += out[max(0, end - size) :][: _TAIL - len(tail)]
            size += len(out)
        if end is None or size < end:
            return end is None, False  # the member ended before the declared length: it is too long
        return not tail or _after_end(tail), tail.lstrip(b"\r\n").startswith(b"WARC/")
    except (OSError, zlib.error):
        return True, False  # unreadable here: warcio's own error path counts it
    finally:
        f.seek(here)


class _LineBoundedReader(DecompressingBufferedReader):
    """warcio reads header lines with an unbounded readline that re-copies the line per block, so one
    newline-free gigabyte (a gzip bomb) takes hours. No WARC or HTTP header line is near 1 MiB: cap it,
    and the record fails to parse and is counted as an error instead."""

    saw_text = False  # a non-blank line was read since the flag was cleared
    # the decompressed text of the current gzip member so far (None: not kept, over _HELD_MEMBER or its
    # start unknown) and the file offset where the member starts, so check_bounds need not decompress it again
    member_parts: list[bytes] | None = None
    member_size = 0
    member_start: int | None = None

    def readline(self, length: int | None = None) -> bytes:
        line = super().readline(length if length else MAX_HEADER_LINE)
        self.saw_text = self.saw_text or bool(line.strip())
        return line

    def start_member(self) -> None:
        tell = getattr(self.stream, "tell", None)
        self.member_parts, self.member_size = [], 0
        self.member_start = tell() - len(self.starting_data or b"") if tell else None

    def _init_decomp(self, decomp_type: str | None) -> None:
        super()._init_decomp(decomp_type)
        self.start_member()  # warcio starts a decompressor at each gzip member

    def _process_read(self, data: bytes) -> None:
        super()._process_read(data)
        if self.member_parts is not None and self.buff is not None:
            self.member_size += self.buff_size
            if self.member_size > _HELD_MEMBER:
                self.member_parts = None
            else:
                self.member_parts.append(self.buff.getvalue())

    def member_text(self, start: int) -> bytes | None:
        """The whole decompressed text of the gzip member at ``start`` when it has been read to its end."""
        d = self.decompressor
        if self.member_parts is None or self.member_start != start or d is None or not d.eof:
            return None
        return b"".join(self.member_parts)


def _archive(stream: Any) -> Any:
    """warcio's iterator over ``stream``, with bounded header lines. warcio takes a record whose headers run
    to the end of its gzip member or of the file for an empty member and skips it silently: the offset of
    each such record (one that had text) is noted in ``unparsed`` for the reader to count."""
    it = ArchiveIterator(stream, arc2warc=True, ensure_http_headers=False, block_size=_BLOCK)
    it.reader.__class__ = _LineBoundedReader
    it.reader.start_member()
    it.unparsed = []
    parse = it._next_record

    def next_record(next_line: Any) -> Any:
        it.reader.saw_text, start = False, it.offset
        try:
            return parse(next_line)
        except EOFError:
            if it.reader.saw_text:
                it.unparsed.append(start)
            raise

    it._next_record = next_record
    return it


def _count_unparsed(it: Any, unit: Unit, rows: Rows) -> None:
    for off in it.unparsed:
        if unit.start <= off and (unit.end is None or off < unit.end):
            rows.error("warc:unparsed", f"{unit.path}@{off}", {"offset": off})
    it.unparsed.clear()


def _inflate(raw: bytes, limit: int, deflate: bool) -> bytes:
    """At most ``limit`` bytes of a gzip/zlib body, or for ``deflate`` also a raw deflate one (as some
    servers send); a body cut short raises Skip: its text would be a fragment."""
    try:
        d = zlib.decompressobj(15 if deflate else 47)  # 47: gzip or zlib header, auto-detected
        out = d.decompress(raw, limit)
    except zlib.error:
        if not deflate:
            raise
        d = zlib.decompressobj(-15)
        out = d.decompress(raw, limit)
    if not d.eof and len(out) < limit:
        raise Skip("content:bad_encoding")
    return out


class _Member:
    """``read(n)`` over the decompressed text of the one gzip member at ``start``; once it is read to its
    end, ``end`` is the offset just after it. A file that ends inside it raises EOFError."""

    def __init__(self, f: BinaryIO, start: int):
        f.seek(start)
        self.f, self.pos, self.end = f, start, None
        self.d, self.tail, self.buf = zlib.decompressobj(31), b"", bytearray()

    def read(self, n: int = -1) -> bytes:
        while (n is None or n < 0 or len(self.buf) < n) and self.end is None:
            data = self.tail or self.f.read(1 << 16)
            if not data:
                raise EOFError("compressed file ended before the end-of-stream marker was reached")
            self.buf += self.d.decompress(data, 1 << 20)  # bounded output: a bomb streams through
            self.tail = self.d.unconsumed_tail
            if self.d.eof:
                self.end = self.pos + len(data) - len(self.d.unused_data)
            else:
                self.pos += len(data) - len(self.tail)
        k = len(self.buf) if n is None or n < 0 else min(n, len(self.buf))
        out = bytes(self.buf[:k])
        del self.buf[:k]
        return out


class WarcReader(Reader):
    format = "warc"

    @dataclass
    class Config:
        # files larger than this are split into byte ranges
        split_bytes: int = field(default=256 << 20, metadata=bounds(ge=1))
        # larger payloads are dropped (warc:oversized)
        max_record_bytes: int = field(default=32 << 20, metadata=bounds(ge=1))
        # attempts for a remote read, exponential backoff from retry_backoff_s
        retries: int = field(default=4, metadata=bounds(ge=1))
        retry_backoff_s: float = field(default=0.5, metadata=bounds(ge=0))

    def units(self, paths: list[str], ranges: int = 1) -> list[Unit]:
        return split_units(paths, self.config.split_bytes, record_cuts, ranges)

    def read(self, unit: Unit, sink: Sink | None = None) -> StageResult:
        return read_unit(self, unit, lambda f, rows: self._read_range(f, unit, rows), sink=sink)

    def _read_range(self, f: BinaryIO, unit: Unit, rows: Rows) -> None:
        gz = _is_gzip(f)
        check = is_local(unit.path)  # a remote file would pay a range request per record
        pos: int | None = unit.start
        pending: tuple[BaseException, int] | None = None  # a failure whose record start is not yet known
        while pos is not None:
            f.seek(pos)
            it = _archive(f)
            last: int | None = None
            try:
                for record in it:
                    _count_unparsed(it, unit, rows)
                    off = it.offset  # start of this record (get_record_offset() would consume it)
                    if unit.end is not None and off >= unit.end:
                        pos = None
                        break
                    if pending:
                        rows.error_from(pending[0], f"{unit.path}@{pending[1]}", {"offset": pending[1]})
                        pending = None
                    last = off
                    ok, more = (
                        check_bounds(f, off, gz, record, it.reader.member_text(off) if gz else None)
                        if check and record.format == "warc"
                        else (True, False)
                    )
                    if not ok:
                        rows.error(
                            "warc:length_mismatch",
                            record.rec_headers.get_header("WARC-Target-URI"),
                            {"offset": off, "file": unit.path},
                        )
                        nxt = find_record_start(f, off + 1, gz, unit.end)
                        pos = nxt if nxt is not None and (unit.end is None or nxt < unit.end) else None
                        break
                    if more:  # a member of several records: warcio would misplace the records after this one
                        nxt = self._read_member(f, unit, rows, off, done=False)
                        pos = nxt if nxt is not None and (unit.end is None or nxt < unit.end) else None
                        break
                    with rows.record(f"{unit.path}@{off}", {"offset": off}):
                        self._record(record, off, unit.path, rows)
                else:
                    pos = None
            except Exception as e:
                if isinstance(e, transient_errors()):
                    raise
                if gz and isinstance(e, ArchiveLoadFailed) and "non-chunked gzip" in str(e):
                    member = pos if last is None else last  # the member holding more than one record
                    nxt = self._read_member(f, unit, rows, member, done=last is not None)
                    pos = nxt if nxt is not None and (unit.end is None or nxt < unit.end) else None
                    _count_unparsed(it, unit, rows)
                    continue
                if last is None and pending:  # the same broken record again: count it once, here
                    pending = None
                if last is None:
                    rows.error_from(e, f"{unit.path}@{pos}", {"offset": pos})
                else:
                    pending = (e, last)
                nxt = find_record_start(f, (pos if last is None else last) + 1, gz, unit.end)
                pos = nxt if nxt is not None and (unit.end is None or nxt < unit.end) else None
            _count_unparsed(it, unit, rows)
        if pending:
            rows.error_from(pending[0], f"{unit.path}@{pending[1]}", {"offset": pending[1]})

    def _read_member(self, f: BinaryIO, unit: Unit, rows: Rows, start: int, done: bool) -> int | None:
        """Read the records of the gzip member at ``start`` that holds several (a whole WARC gzipped, or a
        few records per member): warcio cannot enter such a member at a record, so it refuses it after the
        member's first record (``done``: that one is read already). One pass over the member's text, without
        boundary checks, each record once; a broken record ends it (one error, with the records before it
        counted). A record's location is the member's offset plus its offset in the member's text, whatever
        the unit. Returns where the next member starts (None: the file ends in this one)."""
        member = _Member(f, start)
        it = _archive(member)
        n = 0

        def where(off: int) -> str:
            return f"{unit.path}@{start}" if off == 0 else f"{unit.path}@{start}+{off}"

        def count_unparsed() -> None:
            for off in it.unparsed:
                rows.error("warc:unparsed", where(off), {"offset": start, "member_offset": off})
            it.unparsed.clear()

        try:
            for n, record in enumerate(it, 1):
                count_unparsed()
                if n > 1 or not done:
                    with rows.record(where(it.offset), {"offset": start, "member_offset": it.offset}):
                        self._record(record, it.offset, unit.path, rows, where(it.offset))
        except Exception as e:
            if isinstance(e, transient_errors()):
                raise
            rows.error_from(e, where(0), {"records_before_error": n, "member_records": 1})
            return None
        count_unparsed()
        return member.end

    def _record(self, record: Any, off: int, path: str, rows: Rows, location: str | None = None) -> None:
        location = location or f"{path}@{off}"  # unique within the run: a repeated record is a separate document
        place = id_location(path, location)  # where the inputs lie changes no id (curate.sources.idnames)
        h = record.rec_headers
        rid = h.get_header("WARC-Record-ID") or location
        url = h.get_header("WARC-Target-URI")
        meta = {
            "warc_record_id": rid,
            "warc_date": h.get_header("WARC-Date") or "",
            "warc_type": record.rec_type,
            "warc_offset": off,
        }
        if record.rec_type == "conversion":  # WET: already plain text
            data = record.content_stream().read(self.config.max_record_bytes + 1)
            if len(data) > self.config.max_record_bytes:
                return rows.drop("warc:oversized", url, meta)
            if _truncated(record):
                return rows.error("warc:truncated", url, meta)
            text = data.decode("utf-8", "replace").strip()
            if not text:
                return rows.drop("warc:empty", url, meta)
            meta.update(
                extracted=1,
                content_type=h.get_header("Content-Type") or "text/plain",
                warc_refers_to=h.get_header("WARC-Refers-To") or "",
            )
            return rows.keep(doc_id(self.source, place, text), url, text, meta)
        if record.rec_type != "response":
            return rows.drop("warc:non_response", url, meta)
        if record.http_headers is None:
            return rows.drop("warc:no_http", url, meta)
        status = record.http_headers.get_statuscode()
        meta["http_status"] = status
        if status != "200":
            return rows.drop(f"http_status:{status}", url, meta)
        ctype = record.http_headers.get_header("Content-Type") or ""
        mime = ctype.split(";")[0].strip().lower()
        if not mime:
            mime = (h.get_header("WARC-Identified-Payload-Type") or "").split(";")[0].strip().lower()
        try:
            data = self._payload(record)
        except Skip as s:
            return rows.drop(s.reason, url, meta)
        if not mime and data.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
            mime = "text/html"  # no declared type: sniff, as browsers do
        meta["content_type"] = ctype or mime
        if mime not in HTML_TYPES:
            return rows.drop(f"content_type:{mime or 'none'}", url, meta)
        if len(data) > self.config.max_record_bytes:
            return rows.drop("warc:oversized", url, meta)
        if _truncated(record):
            return rows.error("warc:truncated", url, meta)
        if not data.strip():
            return rows.drop("warc:empty", url, meta)
        if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return rows.drop("content:binary", url, meta)  # mislabelled binary (NUL bytes; not UTF-16)
        text, charset, how = decode_html(data, ctype)
        meta.update(charset=charset, charset_source=how)
        rows.keep(doc_id(self.source, place, text), url, text, meta, markup=True)

    def _payload(self, record: Any) -> bytes:
        """The HTTP body, de-chunked and decoded per Content-Encoding, at most ``max_record_bytes + 1``
        bytes of output (a compression bomb stays bounded). Raises Skip for a body that cannot be decoded."""
        limit = self.config.max_record_bytes + 1
        headers = record.http_headers
        stream = record.raw_stream
        if (headers.get_header("Transfer-Encoding") or "").strip().lower() == "chunked":
            stream = ChunkedDataReader(stream)
        raw = stream.read(limit)
        coding = (headers.get_header("Content-Encoding") or "").strip().lower()
        if coding in ("", "identity"):
            return raw
        try:
            if coding in ("gzip", "x-gzip", "deflate"):
                return _inflate(raw, limit, coding == "deflate")
            if coding == "br":
                b = brotli.Decompressor()
                out = b.process(raw, output_buffer_limit=limit)[:limit]
                if not b.is_finished() and len(out) < limit:
                    raise Skip("content:bad_encoding")
                return out
        except (zlib.error, brotli.error):
            raise Skip("content:bad_encoding") from None
        raise Skip(f"content_encoding:{coding[:40]}")
