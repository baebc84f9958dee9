"""Part files for the runner: streamed, checksummed writes; validation before reuse; bounded-size input slices.

A part is written batch by batch (one Parquet row group per flushed buffer) to a temporary file and renamed
into place, and its row count, size and SHA-256 are returned so the runner can record them and, on a
re-run, recompute a part whose file was truncated, emptied or altered instead of reusing it.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.batches import BATCH_BYTES, BATCH_ROWS, read_batches

TASK_BYTES = 64 << 20  # a task reads about this many uncompressed bytes: small parts merge, big ones split


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class PartWriter:
    """Appends tables to one Parquet part, flushing a row group every ``BATCH_ROWS`` rows or ``BATCH_BYTES``
    bytes, so memory is bounded by a batch whatever the part's size. ``close`` publishes the file atomically
    (an empty part is still a valid file with the schema) and returns its check record."""

    def __init__(self, path: Path, schema: pa.Schema, flush_bytes: int = BATCH_BYTES):
        self.path = path
        self.schema = schema
        self.flush_bytes = flush_bytes
        self._tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        self._buf: list[pa.Table] = []
        self._buf_rows = self._buf_bytes = self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._buf.append(table)
        self._buf_rows += table.num_rows
        self._buf_bytes += table.nbytes
        self.rows += table.num_rows
        if self._buf_rows >= BATCH_ROWS or self._buf_bytes >= self.flush_bytes:
            self._flush()

    def _flush(self) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, self.schema, compression="zstd")
        if self._buf:
            self._writer.write_table(pa.concat_tables(self._buf), row_group_size=max(1, self._buf_rows))
        self._buf, self._buf_rows, self._buf_bytes = [], 0, 0

    def close(self) -> dict:
        self._flush()
        assert self._writer is not None
        self._writer.close()
        os.replace(self._tmp, self.path)
        return {"rows": self.rows, "bytes": self.path.stat().st_size, "sha256": file_sha256(self.path)}

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._tmp.unlink(missing_ok=True)


def check_part(path: Path, expected: dict) -> str | None:
    """Why ``path`` does not match the check record written with it (None when it does): missing, a
    different size (truncated or grown), an unreadable footer, another row count, another checksum."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    if size != expected["bytes"]:
        return f"{size} bytes, {expected['bytes']} were written"
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as e:  # a corrupt footer: any pyarrow error means the same thing here
        return f"unreadable ({type(e).__name__})"
    if rows != expected["rows"]:
        return f"{rows} rows, {expected['rows']} were written"
    if file_sha256(path) != expected["sha256"]:
        return "checksum differs from the one recorded when it was written"
    return None


def check_parts(items: list[tuple[str, dict]]) -> list[tuple[str, str]]:
    """``(path, why)`` for each of ``(path, check record)`` that fails ``check_part`` (run as a task)."""
    return [(p, why) for p, c in items if (why := check_part(Path(p), c))]


@dataclass(frozen=True)
class Slice:
    """Some row groups of one Parquet file: a task's input is a list of slices in order."""

    path: str
    row_groups: tuple[int, ...]
    nbytes: int = 0  # uncompressed bytes of these row groups (from the footer), for progress


def row_groups(paths: list[Path]) -> list[tuple[str, int, int]]:
    """``(path, row group, uncompressed bytes)`` of every row group of ``paths``, in order. Reads footers only."""
    out = []
    for p in paths:
        md = pq.ParquetFile(p).metadata
        out.extend((str(p), rg, md.row_group(rg).total_byte_size) for rg in range(md.num_row_groups))
    return out


def plan_slices(paths: list[Path], task_bytes: int = TASK_BYTES) -> list[list[Slice]]:
    """Pack the row groups of ``paths`` (in order) into tasks of about ``task_bytes`` uncompressed bytes:
    small parts are merged, big ones split at row-group boundaries. Depends only on the files, never on
    the number of workers, so outputs are the same for any worker count. Reads footers only."""
    return pack_slices(row_groups(paths), task_bytes)


def pack_slices(groups: list[tuple[str, int, int]], task_bytes: int) -> list[list[Slice]]:
    """``plan_slices`` over row groups already listed (``row_groups``)."""
    tasks: list[list[tuple[str, int, int]]] = []
    cur: list[tuple[str, int, int]] = []
    cur_bytes = 0
    for path, rg, size in groups:
        if cur and cur_bytes + size > task_bytes:
            tasks.append(cur)
            cur, cur_bytes = [], 0
        cur.append((path, rg, size))
        cur_bytes += size
    if cur:
        tasks.append(cur)
    out = []
    for t in tasks:
        slices: list[Slice] = []
        for path, rg, size in t:
            if slices and slices[-1].path == path:
                slices[-1] = Slice(path, slices[-1].row_groups + (rg,), slices[-1].nbytes + size)
            else:
                slices.append(Slice(path, (rg,), size))
        out.append(slices)
    return out


def iter_slices(
    slices: list[Slice], schema: pa.Schema | None = None, columns: list[str] | None = None
) -> Iterator[pa.Table]:
    """The rows of ``slices`` in order, as tables of at most ``BATCH_ROWS`` rows and about ``BATCH_BYTES``."""
    for s in slices:
        yield from read_batches(s.path, columns, schema=schema, row_groups=s.row_groups, batch_rows=BATCH_ROWS)
