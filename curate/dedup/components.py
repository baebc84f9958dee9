"""Connected components as distributed rounds over partitioned edge files (no task holds the graph).

Alternating Large-Star / Small-Star (Kiveris et al., "Connected Components in MapReduce and Beyond",
SoCC 2014). Edges are stored in both directions, partitioned by their first node (``bucket(a, K)``), so
a task sees every neighbour of the nodes of its partition:
- Large-Star: each node a links every larger neighbour to m = min(a, neighbours);
- Small-Star: each node a links itself and its smaller neighbours to m = min(a, smaller neighbours).
Repeated, the edge set converges to one star per component centred on its smallest node, in
O(log^2 n) rounds. Each task returns the fingerprint (count, sum of pair hashes) of the edges it read;
the driver stops when a round's input equals the previous round's. The result depends only on the
edge set, never on K or the number of tasks; a task's memory is bounded by its partition.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.dedup.common import bucket, group_first, mix64, read_partition, unique_pairs, write_partitioned

MAX_ROUNDS = 200


def write_edges(path: str | Path, u: np.ndarray, v: np.ndarray, partitions: int) -> None:
    """Undirected edges (u, v), stored in both directions, partitioned by the first node."""
    a = np.concatenate([u, v]).astype(np.int64)
    b = np.concatenate([v, u]).astype(np.int64)
    write_partitioned(path, pa.table({"a": a, "b": b}), bucket(a, partitions))


def read_adjacency(files: Sequence[str], m: int) -> tuple[np.ndarray, np.ndarray]:
    """Partition ``m``'s directed pairs (a, b), unique, sorted by (a, b)."""
    t = read_partition(files, m)
    if t is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return unique_pairs(t.column("a").to_numpy(), t.column("b").to_numpy())


def group_min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For pairs sorted by (a, b): min(a, smallest neighbour of a) per pair."""
    _, first = group_first(a)
    return np.minimum(a, b[first]) if len(a) else a


def _fingerprint(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    once = a < b  # each undirected edge counted once, in its smaller node's partition
    h = mix64(mix64(a[once]) ^ b[once].astype(np.uint64))
    return int(once.sum()), int(h.sum(dtype=np.uint64))


def star_task(m: int, step: str, in_files: Sequence[str], out_dir: str, partitions: int) -> tuple[int, int]:
    """One Large-Star or Small-Star step over partition ``m``; returns the input's fingerprint."""
    a, b = read_adjacency(in_files, m)
    if step == "large":
        mins = group_min(a, b)
        sel = b > a
        u, v = b[sel], mins[sel]
    else:
        sel = b < a
        sa, sb = a[sel], b[sel]
        mins = group_min(sa, sb)  # min(a, smaller neighbours); sa sorted with its neighbours
        u = np.concatenate([sb, sa])
        v = np.concatenate([mins, mins])
    live = u != v
    write_edges(Path(out_dir) / f"m{m:05d}.arrow", u[live], v[live], partitions)
    return _fingerprint(a, b)


def components(
    edge_files: list[str], partitions: int, workdir: Path, map_fn: Callable[[Callable, list], list]
) -> tuple[list[str], int]:
    """Run star rounds until the edge set stops changing; returns the final star edge files (each
    non-root node's only edge goes to its component's smallest node) and the number of rounds."""
    files, prev, rounds, last = edge_files, None, 0, None
    while True:
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")
        for step in ("large", "small"):
            out = workdir / f"r{rounds:03d}_{step}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            fps = map_fn(
                functools.partial(star_task, step=step, in_files=files, out_dir=str(out), partitions=partitions),
                list(range(partitions)),
            )
            if step == "large":
                fp = (sum(f[0] for f in fps), sum(f[1] for f in fps) % (1 << 64))
                if fp == prev:
                    shutil.rmtree(out, ignore_errors=True)
                    return files, rounds - 1
                prev = fp
            files = [str(out / f"m{m:05d}.arrow") for m in range(partitions)]
            if last is not None:
                shutil.rmtree(last, ignore_errors=True)  # consumed: keep disk at two rounds
            last = out


def labels_of(files: Sequence[str], m: int) -> tuple[np.ndarray, np.ndarray]:
    """(node, component label = smallest node) of every node in partition ``m`` of converged stars."""
    a, b = read_adjacency(files, m)
    start, _ = group_first(a)
    return a[start], group_min(a, b)[start]
