"""Exact dedup on normalised text (``shingle.normalize``: lower-cased words, single spaces), within and
across sources.

fit: pass 1 (one task per part) hashes each document's normalised text (xxh3-128) and writes
(hash, rank, id) into one file per hash partition; pass 2 (one task per hash partition) groups equal
hashes and keeps the best-ranked copy (source priority, then smallest id). No task holds more than
its partition. Documents whose normalised text is empty are never treated as duplicates.
"""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from curate.dedup.common import DEFAULT_PRIORITY, drop_removed, ranks, read_part, write_removals
from curate.dedup.shingle import normalize
from curate.recipe import bounds
from curate.stage import FitContext, Stage, StageResult


def _hash_part(item: tuple[int, Path], workdir: Path, partitions: int, priority: list[str]) -> dict:
    i, path = item
    t = read_part(path, ["id", "source", "kind", "text"])
    ids = t.column("id").to_pylist()
    rk = ranks(t.column("kind").to_pylist(), t.column("source").to_pylist(), priority)
    h = np.zeros((len(ids), 2), np.uint64)
    keep = np.zeros(len(ids), bool)
    for j, text in enumerate(t.column("text").to_pylist()):
        norm = normalize(text)
        if norm:
            d = xxhash.xxh3_128_digest(norm.encode("utf-8", "surrogatepass"))
            h[j] = np.frombuffer(d, np.uint64)
            keep[j] = True
    for k in range(partitions):
        sel = keep & (h[:, 0] % np.uint64(partitions) == k)
        tab = pa.table({"h1": h[sel, 0], "h2": h[sel, 1], "rank": rk[sel],
                        "id": pa.array([ids[j] for j in np.flatnonzero(sel)], pa.string())})
        out = workdir / "hashes" / f"k{k:05d}" / f"p{i:05d}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(tab, out)
    return {"rows": len(ids), "empty": int((~keep).sum())}


def _group_partition(k: int, workdir: Path) -> dict:
    files = sorted((workdir / "hashes" / f"k{k:05d}").glob("p*.parquet"))
    t = pa.concat_tables([pq.read_table(f) for f in files]) if files else None
    if t is None or t.num_rows == 0:
        return {"ids": [], "dup_of": [], "sizes": [], "same_id": 0}
    ids = np.array(t.column("id").to_pylist(), dtype=object)
    h1, h2, rk = (t.column(c).to_numpy() for c in ("h1", "h2", "rank"))
    order = np.lexsort((ids.astype(str), rk, h2, h1))
    h1, h2, ids = h1[order], h2[order], ids[order]
    start = np.ones(len(ids), bool)
    start[1:] = (h1[1:] != h1[:-1]) | (h2[1:] != h2[:-1])
    first = np.maximum.accumulate(np.where(start, np.arange(len(ids)), 0))
    gone = np.flatnonzero(~start)
    same = ids[gone] == ids[first[gone]]  # the same id twice: not separable by id, both kept
    gone = gone[~same]
    sizes = np.diff(np.append(np.flatnonzero(start), len(ids)))
    return {"ids": ids[gone].tolist(), "dup_of": ids[first[gone]].tolist(),
            "sizes": sizes[sizes > 1].tolist(), "same_id": int(same.sum())}


class ExactDedupStage(Stage):
    """Drops documents whose normalised text equals a better-ranked document's (reason ``dedup:exact``)."""

    name = "dedup_exact"

    @dataclass
    class Config:
        priority: list[str] = field(default_factory=lambda: list(DEFAULT_PRIORITY))
        # hash partitions in pass 2 (default: one per input part)
        tasks: int | None = field(default=None, metadata=bounds(ge=1))

    def fit(self, ctx: FitContext) -> dict:
        parts = max(1, self.config.tasks or len(ctx.parts))
        hashed = ctx.map(functools.partial(_hash_part, workdir=ctx.workdir, partitions=parts,
                                           priority=self.config.priority), list(enumerate(ctx.parts)))
        groups = ctx.map(functools.partial(_group_partition, workdir=ctx.workdir), list(range(parts)))
        ids = [i for g in groups for i in g["ids"]]
        dup_of = [i for g in groups for i in g["dup_of"]]
        state = write_removals(ctx.workdir / "removed", ids, dup_of, np.ones(len(ids), np.float32))
        sizes = Counter(s for g in groups for s in g["sizes"])
        state["summary"] = {
            "docs": sum(h["rows"] for h in hashed), "empty_text": sum(h["empty"] for h in hashed),
            "removed": len(ids), "duplicate_groups": sum(sizes.values()),
            "group_sizes": {str(k): v for k, v in sorted(sizes.items())},
            "same_id_duplicates_kept": sum(g["same_id"] for g in groups),
            "examples": [{"removed": a, "kept": b} for a, b in sorted(zip(ids, dup_of))[:5]],
        }
        ctx.log(f"dedup_exact: {state['summary']['removed']} exact duplicates in "
                f"{state['summary']['duplicate_groups']} groups of {state['summary']['docs']} docs")
        return state

    def apply(self, batch: pa.Table, state: dict) -> StageResult:
        return drop_removed(batch, state, "dedup:exact", self.name)
