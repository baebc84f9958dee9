"""LSH banding and connected components, as tasks over files (no task holds all signatures).

- ``params``: bands/rows minimising the weighted false positive + false negative probability, which is
  ``datasketch.lsh._optimal_param`` (imported, so both agree).
- ``bucket_bands``: one task per group of bands reads only its bands' columns from every part's
  signature file, hashes each band to a 64-bit bucket key, sorts, and emits a star of edges (first
  doc index -> each other) per bucket with 2+ docs. Edges depend on the band only, so the union is the
  same for any grouping.
- ``components``: label propagation (hash-to-min) over edge chunk files: each round, every task
  proposes min(label[u], label[v]) for its edges' endpoints; the driver takes the minimum per node and
  applies pointer jumping (label = label[label]) until nothing changes. Only the label array of nodes
  that have an edge lives on the driver (8 bytes per such node), never edges or signatures.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from datasketch.lsh import _optimal_param

_MUL = np.uint64(0x9E3779B97F4A7C15)


@functools.lru_cache(maxsize=64)
def params(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) from datasketch's optimal-parameter search."""
    b, r = _optimal_param(threshold, num_perm, fp_weight, fn_weight)
    return int(b), int(r)


def band_keys(cols: np.ndarray) -> np.ndarray:
    """64-bit key per row of an (n, rows) block of signature values."""
    h = np.full(cols.shape[0], 0xCBF29CE484222325, np.uint64)
    for j in range(cols.shape[1]):
        h = (h ^ cols[:, j].astype(np.uint64)) * _MUL
    h ^= h >> np.uint64(29)
    return h


def bucket_bands(bands: Sequence[int], sig_files: Sequence[str], offsets: Sequence[int], rows: int,
                 out: str) -> int:
    """Candidate edges (global doc index pairs, u < v) of the given bands; written to ``out`` (.npy)."""
    edges = []
    for band in bands:
        keys, idx = [], []
        for f, off in zip(sig_files, offsets):
            sig = np.load(f, mmap_mode="r")
            block = np.asarray(sig[:, band * rows:(band + 1) * rows])
            live = ~(block == np.iinfo(np.uint32).max).all(axis=1)  # docs without shingles never match
            keys.append(band_keys(block[live]))
            idx.append(np.flatnonzero(live).astype(np.int64) + off)
        k, g = np.concatenate(keys), np.concatenate(idx)
        order = np.lexsort((g, k))
        k, g = k[order], g[order]
        start = np.ones(len(k), bool)
        start[1:] = k[1:] != k[:-1]
        first = np.maximum.accumulate(np.where(start, np.arange(len(k)), 0))
        member = np.flatnonzero(~start)
        edges.append(np.stack([g[first[member]], g[member]], axis=1))
    e = np.unique(np.concatenate(edges), axis=0) if edges else np.empty((0, 2), np.int64)
    np.save(out, e.astype(np.int64).reshape(-1, 2))
    return len(e)


def _propose(edge_file: str, labels_file: str) -> tuple[np.ndarray, np.ndarray]:
    """For one edge chunk: each endpoint's smallest label seen across its edges."""
    e = np.load(edge_file)
    lab = np.load(labels_file, mmap_mode="r")
    m = np.minimum(lab[e[:, 0]], lab[e[:, 1]])
    nodes = np.concatenate([e[:, 0], e[:, 1]])
    mins = np.concatenate([m, m])
    order = np.lexsort((mins, nodes))
    nodes, mins = nodes[order], mins[order]
    first = np.ones(len(nodes), bool)
    first[1:] = nodes[1:] != nodes[:-1]
    return nodes[first], mins[first]


def components(edge_files: list[str], n_nodes: int, workdir: Path,
               map_fn: Callable[[Callable, list], list]) -> tuple[np.ndarray, int]:
    """Component label (smallest node index in it) per node 0..n_nodes-1, and the number of rounds."""
    labels = np.arange(n_nodes, dtype=np.int64)
    lab_file = workdir / "labels.npy"
    rounds = 0
    while True:
        rounds += 1
        np.save(lab_file, labels)
        new = labels.copy()
        for nodes, mins in map_fn(functools.partial(_propose, labels_file=str(lab_file)), edge_files):
            np.minimum.at(new, nodes, mins)
        while True:  # pointer jumping: labels only ever point to smaller nodes of the same component
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, labels):
            return labels, rounds
        labels = new
