"""JSON Lines (plain, .gz, .bz2, .xz, .zst) and Parquet readers with a configurable text column.

A file larger than ``split_bytes`` (or than the run's range step, ``curate.sources.base.range_step``) is
read as units of about that size by separate tasks: an uncompressed local JSONL file at line starts (the
planner counts newlines once to number lines file-wide), a Parquet file at row-group starts. Rows keep their file-wide numbers, so ids do not depend
on the split. Compressed JSONL cannot be entered mid-stream and remote JSONL would be downloaded twice:
both stay one unit per file.

Rows whose text is missing, not a string or empty are dropped with a reason; a malformed JSON line (or
one that is not an object, not UTF-8, nested too deep or holding a lone surrogate) is an error naming its
line number and the reader goes on with the next line; nothing raises. A document's id is made from the
file and row number, so an ``id`` column repeated across files never gives two documents one id (the
column's value is kept as ``meta.source_id``).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pyarrow.parquet as pq

from curate.config import bounds
from curate.schema import doc_id
from curate.sources._util import ByteRange, Rows, Sink, read_unit
from curate.sources.base import Cut, Reader, Unit, debug, split_units
from curate.sources.decompress import compression_of
from curate.sources.idnames import id_name
from curate.sources.safe import files_of
from curate.stage import StageResult
from curate.urls import is_url


@dataclass
class TabularConfig:
    text_field: str = "text"
    id_field: str | None = None  # a stable id column (else the location is path#row)
    url_field: str | None = None
    meta_fields: list[str] = field(default_factory=list)  # columns copied into meta (values keep their JSON types)
    meta_field: str | None = None  # a column holding a mapping merged into meta
    # JSONL lines (documents) longer than this are errors
    max_line_bytes: int = field(default=256 << 20, metadata=bounds(ge=1))
    # larger files are read as several units (see the module docstring)
    split_bytes: int = field(default=256 << 20, metadata=bounds(ge=1))
    retries: int = field(default=4, metadata=bounds(ge=1))
    retry_backoff_s: float = field(default=0.5, metadata=bounds(ge=0))


def _row(reader: Reader, rows: Rows, rec: dict[str, Any], location: str, extra: dict[str, Any], place: str) -> None:
    cfg = reader.config
    meta: dict[str, Any] = dict(extra)
    if cfg.meta_field and isinstance(rec.get(cfg.meta_field), dict):
        meta.update({str(k): v for k, v in rec[cfg.meta_field].items()})
    for k in cfg.meta_fields:
        if rec.get(k) is not None:
            meta[k] = rec[k]
    url = rec.get(cfg.url_field) if cfg.url_field else None
    url = url if isinstance(url, str) else None
    rid = rec.get(cfg.id_field) if cfg.id_field else None
    if rid is not None:  # kept in meta; the document id comes from the row's place (ids repeat across files)
        meta["source_id"] = rid if isinstance(rid, str) else json.dumps(rid, ensure_ascii=False, default=str)
    text = rec.get(cfg.text_field)
    if cfg.text_field not in rec or text is None:
        return rows.drop("tabular:missing_text", url or location, meta)
    if not isinstance(text, str):
        return rows.drop("tabular:non_string_text", url or location, meta)
    if not text.strip():
        return rows.drop("tabular:empty_text", url or location, meta)
    rows.keep(doc_id(reader.source, place, text), url or location, text, meta)


_EOL = re.compile(rb"\r\n|\r|\n")  # a JSON text holds no raw CR or LF: each is a line break


def _blocks(f: Any, chunk: int) -> Iterator[tuple[bytes, bool]]:
    """(block, whether its first byte is the LF of a CRLF whose CR ended the block before)."""
    cr = False
    while block := f.read(chunk):
        yield block, cr and block[:1] == b"\n"
        cr = block.endswith(b"\r")


def _lines(f: Any, max_bytes: int, chunk: int = 1 << 16) -> Iterator[bytes | None]:
    """Lines of a binary stream (ended by LF, CRLF or a lone CR) using only read() (fsspec's zstd stream has
    no readline). A line longer than ``max_bytes`` is skipped and yielded as ``None`` (a gzip bomb of one
    huge line stays bounded)."""
    parts: list[bytes] = []
    size, oversized = 0, False
    for block, split_crlf in _blocks(f, chunk):
        start = int(split_crlf)
        for m in _EOL.finditer(block, start):
            if oversized:
                yield None
            else:
                parts.append(block[start : m.start()])
                yield b"".join(parts)
            parts, size, oversized = [], 0, False
            start = m.end()
        if not oversized:
            parts.append(block[start:])
            size += len(block) - start
            if size > max_bytes:
                parts, oversized = [], True
    if oversized:
        yield None
    elif size:
        yield b"".join(parts)


def _breaks(block: bytes, i: int = 0, j: int | None = None) -> int:
    """Line breaks in ``block[i:j]``, counted as ``_lines`` splits."""
    part = block[i:j]
    return part.count(b"\n") + part.count(b"\r") - part.count(b"\r\n")


def _line_cuts(f: BinaryIO, size: int, split_bytes: int, chunk: int = 1 << 24) -> list[Cut]:
    """(offset, lines before it) of the first line start at or after each multiple of ``split_bytes``, but
    none within ``split_bytes`` of the end (a cut is after an LF; lines are numbered as ``_lines`` splits
    them, lone CRs included)."""
    cuts: list[Cut] = [(0, 0)]
    lines = pos = 0
    want = split_bytes
    for block, split_crlf in _blocks(f, chunk):
        i = 0
        lines -= split_crlf  # that LF ends the line its CR, counted already, ended
        while want - 1 < pos + len(block):
            j = block.find(b"\n", max(i, want - 1 - pos))  # the newline ending the line that holds byte want-1
            if j < 0:
                break
            lines += _breaks(block, i, j + 1)
            i = j + 1
            if pos + i + split_bytes <= size:  # the last unit is at least as large as the others
                cuts.append((pos + i, lines))
            want = pos + i + split_bytes
        lines += _breaks(block, i)
        pos += len(block)
    return cuts


class JsonlReader(Reader):
    format = "jsonl"
    Config = TabularConfig
    compression: str | None = "infer"

    def row(
        self, rows: Rows, rec: dict[str, Any], location: str, extra: dict[str, Any], place: str | None = None
    ) -> None:
        """One parsed record into ``rows`` (a subclass may map records differently). ``place`` is ``location``
        as the record's id hashes it (``curate.sources.idnames``)."""
        _row(self, rows, rec, location, extra, place or location)

    def units(self, paths: list[str], ranges: int = 1) -> list[Unit]:
        paths = files_of(paths)
        whole = [p for p in paths if is_url(p) or compression_of(p) is not None]
        if ranges > 1:
            for p in whole:
                debug(
                    f"{p}: one unit: a {'remote' if is_url(p) else 'compressed'} JSONL file is not cut into "
                    "ranges (a compressed stream cannot be entered mid-stream; a remote one would be fetched twice)"
                )
        split = split_units([p for p in paths if p not in whole], self.config.split_bytes, _line_cuts, ranges)
        order = {p: i for i, p in enumerate(paths)}
        return sorted([Unit(p) for p in whole] + split, key=lambda u: (order[u.path], u.start))

    def read(self, unit: Unit, sink: Sink | None = None) -> StageResult:
        if unit.start or unit.end is not None:  # a split unit: uncompressed, local
            return read_unit(
                self,
                unit,
                lambda f, rows: self._rows(ByteRange(f, unit.start, unit.end), unit.path, rows, unit.first_record),
                None,
                sink,
            )
        return read_unit(self, unit, lambda f, rows: self._rows(f, unit.path, rows), self.compression, sink)

    def _rows(self, f: Any, path: str, rows: Rows, first: int = 0) -> None:
        name = id_name(path)
        for lineno, raw in enumerate(_lines(f, self.config.max_line_bytes), first + 1):
            if lineno == 1 and raw is not None and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]  # a byte order mark (Windows editors) is not part of the record
            where, loc = {"line": lineno}, f"{path}#{lineno}"
            with rows.record(loc, where):  # a line is the unit of failure
                self._line(raw, loc, where, rows, f"{name}#{lineno}")

    def _line(self, raw: bytes | None, loc: str, where: dict[str, Any], rows: Rows, place: str) -> None:
        if raw is None:
            return rows.error("jsonl:oversized", loc, where)
        if not raw.strip():
            rows.counters["blank_lines"] = rows.counters.get("blank_lines", 0) + 1
            return None
        try:
            rec = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return rows.error("jsonl:bad_utf8", loc, where)
        except json.JSONDecodeError as e:
            return rows.error("jsonl:malformed", loc, {**where, "error": str(e)[:200]})
        except RecursionError:
            return rows.error("jsonl:too_deep", loc, where)
        if not isinstance(rec, dict):
            return rows.error("jsonl:not_object", loc, where)
        self.row(rows, rec, loc, where, place)


def _row_group_cuts(f: BinaryIO, size: int, step: int) -> list[int]:
    """0, then the first row group starting at least ``step`` bytes after the previous cut, and so on (none
    within ``step`` of the end of the file)."""
    try:
        offsets = _row_group_starts(pq.ParquetFile(f).metadata)
    except Exception:  # not valid Parquet: one unit, whose read counts the error
        return [0]
    cuts = [0]
    for off in offsets[1:]:
        if off - cuts[-1] >= step and size - off >= step:
            cuts.append(off)
    return cuts


def _row_group_starts(meta: pq.FileMetaData) -> list[int]:
    """Byte offset of each row group's first page."""
    starts = []
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        cols = [rg.column(j) for j in range(rg.num_columns)]
        starts.append(min((c.dictionary_page_offset or c.data_page_offset) for c in cols) if cols else 0)
    return starts


class ParquetReader(JsonlReader):
    format = "parquet"
    compression = None

    def units(self, paths: list[str], ranges: int = 1) -> list[Unit]:
        return split_units(paths, self.config.split_bytes, _row_group_cuts, ranges)

    def read(self, unit: Unit, sink: Sink | None = None) -> StageResult:
        return read_unit(self, unit, lambda f, rows: self._row_groups(f, unit, rows), self.compression, sink)

    def _row_groups(self, f: Any, unit: Unit, rows: Rows) -> None:
        """Rows of the row groups that start in [unit.start, unit.end), numbered file-wide, read batch by
        batch. A row group that does not decode (a corrupt page) errors each of its rows not yet read, a
        value that does not convert (invalid UTF-8 in a string column) errors its row; the rest is read."""
        pf = pq.ParquetFile(f)
        n, name = 0, id_name(unit.path)
        for i, off in enumerate(_row_group_starts(pf.metadata)):
            size = pf.metadata.row_group(i).num_rows
            if unit.start <= off and (unit.end is None or off < unit.end):
                end = n + size
                try:
                    for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[i]):
                        for rec in _records(batch):
                            with rows.record(f"{unit.path}#{n}", {"row": n}):
                                if isinstance(rec, Exception):
                                    raise rec
                                self.row(rows, rec, f"{unit.path}#{n}", {"row": n}, f"{name}#{n}")
                            n += 1
                except (OSError, ValueError) as e:  # pyarrow's errors for data it cannot decode
                    for k in range(n, end):
                        rows.error(
                            "parquet:bad_row_group",
                            f"{unit.path}#{k}",
                            {"row": k, "row_group": i, "error": str(e)[:200]},
                        )
                n = end
            else:
                n += size


PARQUET_BATCH_ROWS = 1024


def _records(batch: Any) -> list[Any]:
    """The batch's rows as dicts; a row whose values do not convert is its exception instead."""
    try:
        return batch.to_pylist()
    except Exception:
        out: list[Any] = []
        for j in range(batch.num_rows):
            try:
                out.append(batch.slice(j, 1).to_pylist()[0])
            except Exception as e:
                out.append(e)
        return out
