"""Shared by exact and near dedup: survivor priority, part reading, and the removed-id table.

The removed-id table is written once by ``fit`` as sorted, memory-mapped numpy arrays under the
stage's workdir (64-bit id key, id, kept id, similarity), so the state shipped to every ``apply``
is a path, and ``apply`` reads only the pages its ids fall in.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from curate.schema import set_meta, with_reason
from curate.stage import StageResult

DEFAULT_PRIORITY = ["wiki", "books", "code", "web"]


def ranks(kinds: Sequence[str | None], sources: Sequence[str | None], priority: list[str]) -> np.ndarray:
    """Survivor rank per document: position of its ``kind`` (else ``source``) in ``priority``; lower wins."""
    pos = {p: i for i, p in enumerate(priority)}
    last = len(priority)
    return np.array([pos.get(k, pos.get(s, last)) for k, s in zip(kinds, sources)], np.int32)


def read_part(path: str | Path, columns: list[str]) -> pa.Table:
    return pq.read_table(path, columns=columns)


def id_keys(ids: Sequence[str]) -> np.ndarray:
    return np.fromiter((xxhash.xxh3_64_intdigest(i.encode("utf-8", "surrogatepass")) for i in ids),
                       np.uint64, count=len(ids))


def _bytes(xs: list[str]) -> np.ndarray:
    return np.array([x.encode("utf-8", "surrogatepass") for x in xs], dtype=np.bytes_)


def write_removals(directory: Path, ids: list[str], dup_of: list[str], sims: np.ndarray) -> dict:
    """Write the removed-id table; returns the (small) state ``lookup`` needs."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = id_keys(ids)
    order = np.argsort(keys, kind="stable")
    arrays = {"keys": keys[order], "ids": _bytes(ids)[order], "dup_of": _bytes(dup_of)[order],
              "sims": np.asarray(sims, np.float32)[order]}
    for name, arr in arrays.items():
        np.save(directory / f"{name}.npy", arr)
    return {"dir": str(directory), "n": len(ids)}


def lookup(state: dict, ids: list[str]) -> list[tuple[str, float] | None]:
    """For each id: (kept id, similarity) if it was removed, else None."""
    out: list[tuple[str, float] | None] = [None] * len(ids)
    if not state or not state.get("n") or not ids:
        return out
    d = Path(state["dir"])
    keys, rid, dup, sims = (np.load(d / f"{n}.npy", mmap_mode="r") for n in ("keys", "ids", "dup_of", "sims"))
    q = id_keys(ids)
    lo = np.searchsorted(keys, q, "left")
    hi = np.searchsorted(keys, q, "right")
    for i in np.flatnonzero(hi > lo):
        want = ids[i].encode("utf-8", "surrogatepass")
        for j in range(lo[i], hi[i]):  # more than one only on a 64-bit key collision
            if rid[j] == want:
                out[i] = (dup[j].decode("utf-8", "surrogatepass"), float(sims[j]))
                break
    return out


def drop_removed(batch: pa.Table, state: dict, reason: str, stage: str) -> StageResult:
    """Split ``batch`` into kept rows and rows in the removed table (with ``dup_of``/``dup_sim`` meta)."""
    hits = lookup(state, batch.column("id").to_pylist())
    mask = np.array([h is None for h in hits], dtype=bool)
    kept = batch.filter(pa.array(mask))
    gone = batch.filter(pa.array(~mask))
    dropped = with_reason(gone, reason, stage)
    audit = [{"dup_of": h[0], "dup_sim": round(float(h[1]), 4)} for h in hits if h is not None]
    if audit:
        dropped = set_meta(dropped, audit)
    return StageResult(kept=kept, dropped=dropped, counters={f"{stage}_removed": int((~mask).sum())})
