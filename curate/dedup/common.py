"""Shared by exact and near dedup: document positions and digests, survivor rank, partitioned files,
task sizing.

Documents are keyed by position: ``node = part << 32 | row`` (``nodes``), never by id alone, so a
repeated id cannot make a duplicate immune; ``apply`` recognises a row by its ``digest`` (id, source,
kind, url, text) and its occurrence among equal digests (see ``removals``).

Every intermediate is a *partitioned file*: one Arrow IPC file per producing task, rows grouped by
partition, with a small index beside it (``.idx.npy``: present partitions, row offsets). A consuming task
memory-maps each file and reads only its partition's slice; a pass writes two files per task, never
tasks x partitions, and the cost of a read does not grow with K.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

DEFAULT_PRIORITY = ["wiki", "books", "code", "web"]
DOCS_PER_TASK = 250_000  # rows a partition task holds (keys, ids, ranks: tens of MB)
MIN_DOCS_PER_TASK = 10_000
ROW_BITS = 32


def ranks(kinds: Sequence[str | None], sources: Sequence[str | None], priority: list[str]) -> np.ndarray:
    """Survivor rank per document: position of its ``kind`` (else ``source``) in ``priority``; lower wins."""
    pos = {p: i for i, p in enumerate(priority)}
    last = len(priority)
    return np.array([pos.get(k, pos.get(s, last)) for k, s in zip(kinds, sources)], np.int32)


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
    _, first = group_first(d1[order], d2[order])
    occ = np.empty(n, np.int32)
    occ[order] = np.arange(n) - first
    return occ


def estimate_jaccard(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of signature rows (broadcasts): the share of equal values."""
    return (x == y).mean(axis=-1)


def group_first(*cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by ``cols``: whether each row starts a group of equal keys, and its group's first row."""
    n = len(cols[0])
    start = np.ones(n, bool)
    if n:
        start[1:] = np.logical_or.reduce([c[1:] != c[:-1] for c in cols])
    return start, np.maximum.accumulate(np.where(start, np.arange(n), 0))


def unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (a, b) pairs, sorted by a then b."""
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    start, _ = group_first(a, b)
    return a[start], b[start]


def cluster_cpus() -> int:
    """CPUs of the Ray cluster this process is attached to (1 without Ray): a floor for task counts."""
    if "ray" not in sys.modules:  # never imported: not attached, and an in-process run does not load it
        return 1
    try:
        import ray

        if ray.is_initialized():
            return max(1, int(ray.cluster_resources().get("CPU", 1)))
    except Exception:  # Ray missing or not reachable: plan for one CPU
        pass
    return 1


def partitions_for(n_docs: int, override: int | None = None, per_task: int = DOCS_PER_TASK) -> int:
    """Partition count: from the data size (``per_task`` documents each), and at least one per cluster CPU
    while each still gets ``MIN_DOCS_PER_TASK`` documents (a big cluster does not split small data thin)."""
    if override:  # never more partitions than documents: a huge setting costs no empty tasks and files
        return max(1, min(int(override), n_docs))
    return max(1, math.ceil(n_docs / per_task), min(cluster_cpus(), math.ceil(n_docs / MIN_DOCS_PER_TASK)))


def count_rows(parts: Sequence[Path]) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parts)


# ---------------------------------------------------------------- partitioned files


def _index_path(path: str | Path) -> Path:
    return Path(str(path) + ".idx.npy")


def write_partitioned(path: str | Path, table: pa.Table, keys: np.ndarray) -> None:
    """Write ``table`` grouped by partition index ``keys`` (row order kept within a partition) as an
    Arrow IPC file, and beside it the index: present partitions and their row offsets."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = np.asarray(keys, np.int64)
    order = np.argsort(keys, kind="stable")
    table, keys = table.take(pa.array(order)).combine_chunks(), keys[order]
    present, starts = np.unique(keys, return_index=True)
    index = np.stack([np.append(present, -1), np.append(starts, len(keys))]).astype(np.int64)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    tmp.replace(path)
    tmp_idx = path.with_name(path.name + f".idx.tmp{os.getpid()}.npy")
    np.save(tmp_idx, index)
    tmp_idx.replace(_index_path(path))  # last: a file with its index is complete


def read_partition(paths: Sequence[str | Path], k: int, columns: list[str] | None = None) -> pa.Table | None:
    """Partition ``k``'s rows of every file, or None when there are none. Files are memory-mapped and
    indexed, so a task reads its slices' pages and two index entries per file, whatever K is."""
    tables = []
    for p in paths:
        index = np.load(_index_path(p), mmap_mode="r")
        j = int(np.searchsorted(index[0, :-1], k))
        if j >= index.shape[1] - 1 or index[0, j] != k:
            continue
        lo, hi = int(index[1, j]), int(index[1, j + 1])
        t = pa.ipc.open_file(pa.memory_map(str(p))).read_all().slice(lo, hi - lo)
        tables.append(t.select(columns) if columns else t)
    return pa.concat_tables(tables) if tables else None


def merge_sizes(counts: Sequence[dict]) -> dict[str, int]:
    """Per-task {group size: groups} histograms summed, keyed by size as a string (JSON-ready)."""
    total: dict[int, int] = {}
    for c in counts:
        for size, n in c.items():
            total[int(size)] = total.get(int(size), 0) + n
    return {str(k): v for k, v in sorted(total.items())}


def merge_examples(lists: Sequence[list[dict]], n: int = 5) -> list[dict]:
    """The ``n`` smallest examples (by removed id, then kept id) of bounded per-task samples."""
    return sorted((e for lst in lists for e in lst), key=lambda e: (e["removed"], e["kept"]))[:n]
