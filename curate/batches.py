"""Read a Parquet part as a stream of small tables: the one reader of parts (tasks, fit passes, exports, reports).

``pre_buffer=False`` with a read buffer makes the reader decode page by page: memory is about one batch even
when the part is one huge row group (pyarrow otherwise loads a whole row group's column chunks; measured on a
155 MB row group of 125k documents: Arrow pool peak 114 MB -> 14 MB). A batch holds at most ``BATCH_ROWS``
rows and about ``BATCH_BYTES`` bytes (sized per row group from its average row).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

BATCH_ROWS = 4096  # at most this many documents per batch: read, handed to ``apply``, written as a row group ...
BATCH_BYTES = 32 << 20  # ... and about this many (uncompressed) bytes
READ_BUFFER = 1 << 20


def parquet_file(path: str | Path) -> pq.ParquetFile:
    """``path`` opened for reading in modest, unbuffered-ahead chunks (what every Parquet read here holds)."""
    return pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER)


def read_table(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """``columns`` (default all) of the whole Parquet file ``path``, decoded on this thread: a task is one CPU's
    work, and Arrow's pool threads would allocate in a glibc arena of their own, whose top
    ``curate.lean.release_freed_memory`` cannot give back. Not ``pq.read_table``: it goes through
    ``pyarrow.dataset``, whose first import (Acero, Substrait, the cloud filesystems) costs a process ~50 MB."""
    return parquet_file(path).read(columns=columns, use_threads=False)


def read_batches(
    path: str | Path,
    columns: list[str] | None = None,
    *,
    schema: pa.Schema | None = None,
    row_groups: Iterable[int] | None = None,
    batch_rows: int | None = None,
) -> Iterator[pa.Table]:
    """Tables of ``columns`` (default all) of the Parquet file ``path``, in order, of at most ``batch_rows`` rows
    and about ``BATCH_BYTES``; only ``row_groups`` when given; cast to ``schema`` when given."""
    batch_rows = batch_rows or BATCH_ROWS
    f = parquet_file(path)
    for rg in range(f.metadata.num_row_groups) if row_groups is None else row_groups:
        md = f.metadata.row_group(rg)
        per_row = max(1, md.total_byte_size // max(1, md.num_rows))
        rows = max(1, min(batch_rows, BATCH_BYTES // per_row))
        for rb in f.iter_batches(batch_size=rows, row_groups=[rg], columns=columns):
            t = pa.Table.from_batches([rb], schema=rb.schema)
            yield t.cast(schema) if schema is not None else t
