"""Shared by exact and near dedup: document positions and digests, survivor rank, partitioned files,
task sizing.

Documents are keyed by position: ``node = part << 32 | row`` (``nodes``), never by id alone, so a
repeated id cannot make a duplicate immune; ``apply`` recognises a row by its ``digest`` (id, source,
kind, url, text) and its occurrence among equal digests (see ``removals``).

Every intermediate is a *partitioned file*: one Parquet file per producing task, one row group per
non-empty partition (the partition list is in the schema metadata), so a consuming task reads only its
partition's row groups of each file and a pass writes as many files as it has tasks (never tasks x
partitions).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

DEFAULT_PRIORITY = ["wiki", "books", "code", "web"]
DOCS_PER_TASK = 250_000  # rows a partition task holds (keys, ids, ranks: tens of MB)
ROW_BITS = 32
_PART_KEY = b"curate.partitions"


def ranks(kinds: Sequence[str | None], sources: Sequence[str | None], priority: list[str]) -> np.ndarray:
    """Survivor rank per document: position of its ``kind`` (else ``source``) in ``priority``; lower wins."""
    pos = {p: i for i, p in enumerate(priority)}
    last = len(priority)
    return np.array([pos.get(k, pos.get(s, last)) for k, s in zip(kinds, sources)], np.int32)


def read_part(path: str | Path, columns: list[str]) -> pa.Table:
    return pq.read_table(path, columns=columns)


def nodes(part: int, n_rows: int) -> np.ndarray:
    """Global position keys of a part's rows; their order is (part, row) order."""
    return (np.int64(part) << np.int64(ROW_BITS)) + np.arange(n_rows, dtype=np.int64)


def part_of(node: np.ndarray) -> np.ndarray:
    return (np.asarray(node, np.int64) >> np.int64(ROW_BITS)).astype(np.int64)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads node ids and keys evenly over partitions."""
    z = np.asarray(x).astype(np.uint64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def bucket(x: np.ndarray, n: int) -> np.ndarray:
    """Partition index in [0, n) of each 64-bit value."""
    return (mix64(x) % np.uint64(n)).astype(np.int64)


def digests(batch: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """128-bit digest (two uint64) of each row's id, source, kind, url and text: how ``apply`` finds a row."""
    cols = [batch.column(c).to_pylist() for c in ("id", "source", "kind", "url", "text")]
    d = np.empty((batch.num_rows, 2), np.uint64)
    for i, row in enumerate(zip(*cols)):
        h = xxhash.xxh3_128()
        for v in row:
            h.update(b"\x01" if v is None else v.encode("utf-8", "surrogatepass") + b"\x00")
        d[i] = np.frombuffer(h.digest(), np.uint64)
    return d[:, 0].copy(), d[:, 1].copy()


def occurrences(d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """Per row, how many earlier rows have the same digest (0 for the first)."""
    n = len(d1)
    if n == 0:
        return np.zeros(0, np.int32)
    order = np.lexsort((np.arange(n), d2, d1))
    a, b = d1[order], d2[order]
    start = np.ones(n, bool)
    start[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    occ = np.empty(n, np.int32)
    occ[order] = np.arange(n) - first
    return occ


def cluster_cpus() -> int:
    """CPUs of the Ray cluster this process is attached to (1 without Ray): a floor for task counts."""
    try:
        import ray

        if ray.is_initialized():
            return max(1, int(ray.cluster_resources().get("CPU", 1)))
    except Exception:  # Ray missing or not reachable: plan for one CPU
        pass
    return 1


def partitions_for(n_docs: int, override: int | None = None, per_task: int = DOCS_PER_TASK) -> int:
    """Partition count: from the data size (``per_task`` documents each), at least one per cluster CPU."""
    if override:
        return max(1, int(override))
    return max(1, math.ceil(n_docs / per_task), cluster_cpus())


def count_rows(parts: Sequence[Path]) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parts)


# ---------------------------------------------------------------- partitioned files

def write_partitioned(path: str | Path, table: pa.Table, keys: np.ndarray) -> None:
    """Write ``table`` with one row group per distinct partition index in ``keys`` (row order kept within)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = np.asarray(keys, np.int64)
    order = np.argsort(keys, kind="stable")
    table, keys = table.take(pa.array(order)), keys[order]
    present, starts = np.unique(keys, return_index=True)
    bounds = np.append(starts, len(keys))
    schema = table.schema.with_metadata({_PART_KEY: json.dumps(present.tolist())})
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with pq.ParquetWriter(tmp, schema, compression="none") as w:
        for j in range(len(present)):
            n = int(bounds[j + 1] - bounds[j])
            w.write_table(table.slice(int(bounds[j]), n).replace_schema_metadata(schema.metadata), row_group_size=n)
    tmp.replace(path)


def read_partition(paths: Sequence[str | Path], k: int, columns: list[str] | None = None) -> pa.Table | None:
    """Partition ``k``'s rows of every file (only those row groups are read); None when there are none."""
    tables = []
    for p in paths:
        f = pq.ParquetFile(p)
        present = json.loads(f.schema_arrow.metadata[_PART_KEY])
        if k in present:
            tables.append(f.read_row_group(present.index(k), columns=columns))
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables).replace_schema_metadata(None) if tables else None


def merge_examples(lists: Sequence[list[dict]], n: int = 5) -> list[dict]:
    """The ``n`` smallest examples (by removed id, then kept id) of bounded per-task samples."""
    return sorted((e for lst in lists for e in lst), key=lambda e: (e["removed"], e["kept"]))[:n]
