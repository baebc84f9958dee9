"""Verification joined to the data: each candidate pair is checked by the tasks that hold its texts.

Candidate edges (u, v) arrive partitioned by the part of u (``lsh.bucket_task``).
1. ``send_left`` (one task per part p): the unique pairs whose u lies in p; reads only p's rows of u
   and sends (u, v, shingle set of u) on, partitioned by the part of v;
2. ``join_right`` (one task per part q): reads only q's rows of v, computes the exact Jaccard of each
   pair's shingle sets (``signature.shingle_sets``: 64-bit shingle hashes) and keeps the pairs at or
   above the threshold as component edges.
So no task reads more than its own part's texts and its share of the pairs. Without verification,
``send_left`` writes the candidates as component edges directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.batches import read_table
from curate.dedup.common import (
    ROW_BITS,
    group_first,
    part_of,
    read_partition,
    unique_pairs,
    write_partitioned,
)
from curate.dedup.components import write_edges

_ROW_MASK = np.int64((1 << ROW_BITS) - 1)


def _unique_pairs(t: pa.Table | None) -> tuple[np.ndarray, np.ndarray]:
    if t is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return unique_pairs(t.column("u").to_numpy(), t.column("v").to_numpy())


def _sets(part: str, node: np.ndarray, ngram: int, cjk_ngram: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shingle sets of the distinct nodes of one part (flat values, offsets) and each node's set index."""
    from curate.dedup.signature import shingle_sets  # imported by the tasks that verify, not by the driver

    uniq, idx = np.unique(node, return_inverse=True)
    texts = read_table(part, ["text"]).column("text").take(pa.array(uniq & _ROW_MASK)).to_pylist()
    values, offsets = shingle_sets(texts, ngram, cjk_ngram)
    return values, offsets, idx.astype(np.int64)


def send_left(
    p: int,
    cand_files: Sequence[str],
    parts: Sequence[str],
    out_dir: str,
    verify: bool,
    partitions: int,
    ngram: int,
    cjk_ngram: int,
) -> int:
    """Unique candidate pairs whose first node is in part ``p``; returns their number."""
    u, v = _unique_pairs(read_partition(cand_files, p))
    if not verify:
        write_edges(Path(out_dir) / f"p{p:05d}.arrow", u, v, partitions)
        return len(u)
    out = Path(out_dir) / f"p{p:05d}.arrow"
    if not len(u):
        write_partitioned(out, pa.table({"u": u, "v": v, "su": pa.array([], pa.large_list(pa.uint64()))}), u)
        return 0
    # u's set travels once per destination part (on its first pair there), not once per pair: a document
    # with a million copies sends one set to each part, not a million
    pv = part_of(v)
    order = np.lexsort((v, pv, u))
    u, v, pv = u[order], v[order], pv[order]
    first, _ = group_first(u, pv)
    values, offsets, idx = _sets(parts[p], u, ngram, cjk_ngram)
    lengths = np.where(first, np.diff(offsets)[idx], 0)
    sent = np.concatenate([values[offsets[i] : offsets[i + 1]] for i in idx[first]])
    su = pa.LargeListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)), pa.array(sent, pa.uint64())
    )
    write_partitioned(out, pa.table({"u": u, "v": v, "su": su}), pv)
    return len(u)


def join_right(
    q: int,
    left_files: Sequence[str],
    parts: Sequence[str],
    out_dir: str,
    threshold: float,
    partitions: int,
    ngram: int,
    cjk_ngram: int,
) -> dict:
    """Exact Jaccard of the pairs whose second node is in part ``q``; keeps those >= ``threshold``."""
    from curate.dedup.signature import jaccards  # imported by the tasks that verify

    t = read_partition(left_files, q)
    out = Path(out_dir) / f"q{q:05d}.arrow"
    if t is None:
        write_edges(out, np.zeros(0, np.int64), np.zeros(0, np.int64), partitions)
        return {"verified": 0, "hist": [0] * 20}
    u, v = t.column("u").to_numpy(), t.column("v").to_numpy()
    su = t.column("su").combine_chunks()
    _, holder = group_first(u)  # a u's pairs are contiguous here and its set rides on the first
    values, offsets, idx = _sets(parts[q], v, ngram, cjk_ngram)
    jac = jaccards(su.values.to_numpy(), su.offsets.to_numpy().astype(np.int64), holder, values, offsets, idx)
    ok = jac >= threshold
    write_edges(out, u[ok], v[ok], partitions)
    hist = np.histogram(jac, bins=20, range=(0.0, 1.0))[0]
    return {"verified": int(ok.sum()), "hist": hist.tolist()}
