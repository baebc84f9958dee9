"""The removed-row table: built by tasks, looked up by ``apply``, never held by the driver.

Deciding tasks (exact hash groups, near-duplicate components) write one record per removed row
(``RECORD``: its position, digest and id, the survivor's position, digest and id) into a partitioned
file keyed by the row's digest bucket. One ``merge_bucket`` task per bucket gives each record its
occurrence number among rows with the same digest, adds the similarity, and writes the bucket as
sorted numpy arrays; ``apply`` computes the same (digest, occurrence) for its rows and memory-maps
only the pages of the buckets they fall in.

Occurrence: rows with equal digests are equal in id, source, kind, url and text, so they are grouped
together (same exact hash; same signature, hence one component) and ranked alike; the survivor among
them is the first by position, so removed copies are occurrences 1.. (or 0.. when the survivor is
another document). ``apply`` counts occurrences in batch order, which matches while such copies sit in
one part. Copies of the survivor's whole row in another part cannot be told from it there: each such
part keeps one, and the summary counts them (``identical_rows_kept_in_other_parts``); ids are made unique
at read time, so whole-row copies do not reach dedup in a pipeline run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.dedup.common import bucket, digests, merge_examples, occurrences, part_of, read_partition, write_partitioned
from curate.schema import set_meta, with_reason
from curate.stage import StageResult

RECORD = pa.schema(
    [
        ("node", pa.int64()),
        ("d1", pa.uint64()),
        ("d2", pa.uint64()),
        ("id", pa.string()),
        ("keep_node", pa.int64()),
        ("keep_d1", pa.uint64()),
        ("keep_d2", pa.uint64()),
        ("dup_of", pa.string()),
    ]
)
_ARRAYS = ("d1", "d2", "occ", "dup_of", "sim")
EXAMPLES = 5


def write_records(path: str | Path, t: pa.Table, gone: np.ndarray, keep: np.ndarray, buckets: int) -> None:
    """Removal records for rows ``gone`` of ``t`` (columns node, d1, d2, id), each kept in favour of the
    row at the same place of ``keep``, partitioned by digest bucket."""
    g, k = pa.array(gone, pa.int64()), pa.array(keep, pa.int64())
    rec = pa.table(
        {
            "node": t.column("node").take(g),
            "d1": t.column("d1").take(g),
            "d2": t.column("d2").take(g),
            "id": t.column("id").take(g),
            "keep_node": t.column("node").take(k),
            "keep_d1": t.column("d1").take(k),
            "keep_d2": t.column("d2").take(k),
            "dup_of": t.column("id").take(k),
        },
        schema=RECORD,
    )
    write_partitioned(path, rec, bucket(rec.column("d1").to_numpy(), buckets))


def bucket_count(n_docs: int, per_bucket: int = 1 << 22) -> int:
    """Removal buckets: few (every ``apply`` batch may touch each), each at most ~4M rows."""
    return max(1, -(-n_docs // per_bucket))


def _bytes(xs: list[str]) -> np.ndarray:
    return np.array([x.encode("utf-8", "surrogatepass") for x in xs], dtype=np.bytes_)


def merge_bucket(
    r: int,
    decision_files: Sequence[str],
    out_dir: str,
    sims: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> dict:
    """Write bucket ``r`` of the removed table; returns how many rows ``apply`` will drop, how many
    whole-row copies it will keep (see the module doc) and a bounded sample of examples."""
    t = read_partition(decision_files, r)
    out = Path(out_dir)
    if t is None:
        return {"rows": 0, "removed": 0, "kept_copies": 0, "examples": []}
    t = t.sort_by([("d1", "ascending"), ("d2", "ascending"), ("node", "ascending")])
    d1, d2 = t.column("d1").to_numpy(), t.column("d2").to_numpy()
    same = (d1 == t.column("keep_d1").to_numpy()) & (d2 == t.column("keep_d2").to_numpy())
    occ = occurrences(d1, d2) + same.astype(np.int32)
    node, keep = t.column("node").to_numpy(), t.column("keep_node").to_numpy()
    # copies of the survivor's whole row in another part: apply there counts from 0 and keeps one
    cross = same & (part_of(node) != part_of(keep))
    kept_copies = (
        len(np.unique(np.stack([d1[cross], d2[cross], part_of(node[cross]).astype(np.uint64)], 1), axis=0))
        if cross.any()
        else 0
    )
    sim = sims(node, keep) if sims else np.ones(len(node), np.float32)
    ids, dup_of = t.column("id").to_pylist(), t.column("dup_of").to_pylist()
    arrays = {"d1": d1, "d2": d2, "occ": occ, "dup_of": _bytes(dup_of), "sim": np.asarray(sim, np.float32)}
    out.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        np.save(out / f"r{r:05d}.{name}.npy", arr)
    sample = sorted(zip(ids, dup_of, sim.tolist()))[:EXAMPLES]
    examples = [{"removed": a, "kept": b, "sim": round(float(s), 4)} for a, b, s in sample]
    return {"rows": len(ids), "removed": len(ids) - kept_copies, "kept_copies": kept_copies, "examples": examples}


def build_table(
    map_fn: Callable[[Callable, list], list],
    decision_files: Sequence[str],
    out_dir: str,
    buckets: int,
    sims: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> tuple[dict, dict]:
    """Run ``merge_bucket`` for every bucket; returns the state ``apply`` needs and the summary figures."""
    merged = map_fn(
        functools.partial(merge_bucket, decision_files=decision_files, out_dir=out_dir, sims=sims), list(range(buckets))
    )
    state = {"dir": out_dir, "buckets": buckets, "n": sum(m["rows"] for m in merged)}
    return state, {
        "removed": sum(m["removed"] for m in merged),
        "identical_rows_kept_in_other_parts": sum(m["kept_copies"] for m in merged),
        "examples": merge_examples([m["examples"] for m in merged]),
    }


def lookup(state: dict, batch: pa.Table) -> list[tuple[str, float] | None]:
    """For each row of ``batch``: (kept id, similarity) if the row was removed, else None."""
    out: list[tuple[str, float] | None] = [None] * batch.num_rows
    if not state or not state.get("n") or not batch.num_rows:
        return out
    d1, d2 = digests(batch)
    occ = occurrences(d1, d2)
    b = bucket(d1, state["buckets"])
    d = Path(state["dir"])
    for r in np.unique(b):
        if not (d / f"r{r:05d}.d1.npy").exists():
            continue
        k1, k2, kocc, dup, sims = (np.load(d / f"r{r:05d}.{n}.npy", mmap_mode="r") for n in _ARRAYS)
        rows = np.flatnonzero(b == r)
        lo = np.searchsorted(k1, d1[rows], "left")
        hi = np.searchsorted(k1, d1[rows], "right")
        for i in np.flatnonzero(hi > lo):
            row = rows[i]
            for j in range(lo[i], hi[i]):  # a few entries: the copies of one digest
                if k2[j] == d2[row] and kocc[j] == occ[row]:
                    out[row] = (dup[j].decode("utf-8", "surrogatepass"), float(sims[j]))
                    break
    return out


def drop_removed(batch: pa.Table, state: dict, reason: str, stage: str) -> StageResult:
    """Split ``batch`` into kept rows and removed rows (with ``dup_of``/``dup_sim`` meta)."""
    hits = lookup(state, batch)
    mask = np.array([h is None for h in hits], dtype=bool)
    kept = batch.filter(pa.array(mask))
    dropped = with_reason(batch.filter(pa.array(~mask)), reason, stage)
    audit = [{"dup_of": h[0], "dup_sim": round(float(h[1]), 4)} for h in hits if h is not None]
    if audit:
        dropped = set_meta(dropped, audit)
    return StageResult(kept=kept, dropped=dropped, counters={f"{stage}_removed": int((~mask).sum())})
