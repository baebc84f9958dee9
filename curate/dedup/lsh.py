"""LSH parameters and band bucketing, as tasks over partitioned files.

Parameters. A pair of Jaccard ``s`` shares at least one of ``b`` bands of ``r`` rows with probability
``1 - (1 - s^r)^b``. With exact verification of every candidate (the default), a false candidate costs
CPU, never precision, while a missed pair is a duplicate left in the data; so ``params_for_recall``
takes the (b, r) with b*r <= num_perm that reach recall >= 0.95 at the threshold and >= 0.99 at
threshold + 0.05 with the fewest false candidates (smallest area under the curve below the threshold).
At 0.8 and 128 permutations that is 13 bands x 7 rows (recall 0.953 at 0.8, 0.993 at 0.85;
datasketch's 9 x 13 gives 0.69 at 0.85; FineWeb uses 14 x 8). Without verification the
false positives are removed documents, so ``params`` keeps datasketch's balanced choice.

Bucketing. Signature tasks write each band's 64-bit bucket keys into ``bands * K`` partitions (band,
key-partition); one task per (band, key-partition) sorts its keys and emits a star of candidate edges
(first node -> each other) per bucket of 2+ documents, partitioned by the part of the first node, so
verification can be routed to the data.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.dedup.common import group_first, part_of, read_partition, write_partitioned

_MUL = np.uint64(0x9E3779B97F4A7C15)
RECALL_AT_THRESHOLD = 0.95
RECALL_ABOVE = 0.99  # at threshold + ABOVE_MARGIN
ABOVE_MARGIN = 0.05


def recall(s: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """Probability that a pair of Jaccard ``s`` becomes a candidate."""
    return 1.0 - (1.0 - np.asarray(s, float) ** rows) ** bands


@functools.lru_cache(maxsize=64)
def params(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) from datasketch's optimal-parameter search (balances false positives and negatives)."""
    from datasketch.lsh import _optimal_param  # datasketch and scipy load only for a run without verification

    b, r = _optimal_param(threshold, num_perm, fp_weight, fn_weight)
    return int(b), int(r)


@functools.lru_cache(maxsize=64)
def params_for_recall(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) reaching the recall targets with the fewest false candidates (see the module doc)."""
    grid = np.linspace(0.0, threshold, 201)
    best: tuple[float, int, int] | None = None
    for r in range(1, num_perm + 1):
        for b in range(1, num_perm // r + 1):
            if (
                recall(threshold, b, r) >= RECALL_AT_THRESHOLD
                and recall(min(1.0, threshold + ABOVE_MARGIN), b, r) >= RECALL_ABOVE
            ):
                fp = float(np.trapezoid(recall(grid, b, r), grid))  # more bands only add false candidates
                if best is None or fp < best[0]:
                    best = (fp, b, r)
                break
    if best is None:
        raise ValueError(f"num_perm={num_perm} cannot reach recall {RECALL_AT_THRESHOLD} at {threshold}")
    return best[1], best[2]


def band_keys(cols: np.ndarray) -> np.ndarray:
    """64-bit key per row of an (n, rows) block of signature values."""
    h = np.full(cols.shape[0], 0xCBF29CE484222325, np.uint64)
    for j in range(cols.shape[1]):
        h = (h ^ cols[:, j].astype(np.uint64)) * _MUL
    h ^= h >> np.uint64(29)
    return h


def bucket_task(item: tuple[int, int], band_files: Sequence[str], partitions: int, out_dir: str) -> int:
    """Candidate edges (u < v, by position) of one (band, key-partition); returns how many."""
    band, k = item
    t = read_partition(band_files, band * partitions + k)
    out = Path(out_dir) / f"b{band:03d}_k{k:05d}.arrow"
    if t is None:
        write_partitioned(
            out, pa.table({"u": pa.array([], pa.int64()), "v": pa.array([], pa.int64())}), np.zeros(0, np.int64)
        )
        return 0
    key, node = t.column("key").to_numpy(), t.column("node").to_numpy()
    order = np.lexsort((node, key))
    key, node = key[order], node[order]
    start, first = group_first(key)
    member = np.flatnonzero(~start)
    u, v = node[first[member]], node[member]
    write_partitioned(out, pa.table({"u": u, "v": v}), part_of(u))
    return len(u)
