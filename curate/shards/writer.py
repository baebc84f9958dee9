"""Globally shuffled Megatron shards, written by a distributed, deterministic shuffle.

Each document with meta ``repeat = r`` becomes r instances, instance i with the shuffle key
``draw64(seed, "shuffle", id, i)``. A document goes to the validation split iff
``unit(seed, "val", id) < val_fraction`` (one instance: repeating validation text would only inflate it; when
no document draws it and there are at least two, the lowest draw goes, so a trainer always has something to
validate on). A split of T tokens (one EOD per instance included) is cut by key range into
S = ceil(T / shard_tokens) shards: the instance with key k goes to shard ``floor(k * S / 2**64)``, and a shard
holds its instances in key order. Shards therefore depend only on the documents, the tokenizer, the seed and
``shard_tokens`` (never on parts, workers or the shuffle's bucket size) and hold ``shard_tokens`` tokens on
average; documents are never split.

Three passes, none of which brings per-document data into the driver:

1. ``tokenizer.encode.encode_part`` (a task per part) writes the part's tokens and its instance index sorted by
   key (``INDEX_SCHEMA``) and returns ``part_summary`` counts;
2. ``plan`` (driver) sums those counts into shard counts and groups consecutive shards into buckets of at most
   ``bucket_tokens`` tokens (the memory bound of one bucket task: its index rows, the tokens are memmapped);
3. ``write_bucket`` (a task per bucket) reads its key range from every part's index (row groups are pruned by
   their key statistics), sorts it, writes the bucket's shards and their lineage ``lineage/<shard>.parquet``
   and returns manifest entries and per-source counts, merged by ``merge_buckets``.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from curate.mix.draws import draw64, unit
from curate.partio import file_sha256
from curate.shards.megatron import IndexedWriter

SPLITS = ("train", "val")
KEY_SPACE = 2**64
INDEX_SCHEMA = pa.schema(
    [
        ("key", pa.uint64()),
        ("val_draw", pa.float64()),
        ("id", pa.string()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("repeat_index", pa.int32()),
        ("n_tokens", pa.int64()),
        ("offset", pa.int64()),
        ("chars", pa.int64()),
    ]
)
LINEAGE_SCHEMA = pa.schema(
    [
        ("split", pa.string()),
        ("shard", pa.string()),
        ("doc_index", pa.int64()),
        ("id", pa.string()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("repeat_index", pa.int32()),
        ("token_offset", pa.int64()),
        ("n_tokens", pa.int64()),
    ]
)
INDEX_ROW_GROUP = 1 << 16
# Token files a shuffle task keeps open at once: a bucket reads from every part, and a snapshot has tens of
# thousands of parts, past any file-descriptor limit (1,024 by default).
MAX_OPEN_PARTS = 128
# Instance order: by shuffle key; the rest only breaks ties between copies of one id (ids should be unique in a
# run, but the order must not depend on which part a repeated id came from).
ORDER = [(c, "ascending") for c in ("key", "id", "repeat_index", "source", "url", "n_tokens", "chars")]


# ---------------------------------------------------------------- pass 1 (inside the encode task)


def instance_rows(docs: pa.Table, seed: int) -> pa.Table:
    """One ``INDEX_SCHEMA`` row per instance of each document of ``docs`` (columns id, source, url, repeat,
    chars, n_tokens, offset), unsorted."""
    ids = docs.column("id").to_pylist()
    reps = np.maximum(docs.column("repeat").to_numpy(zero_copy_only=False).astype(np.int64), 1)
    rows = np.repeat(np.arange(len(ids)), reps)
    rep_index = np.concatenate([np.arange(r) for r in reps]) if len(ids) else np.zeros(0, np.int64)
    keys = np.fromiter((draw64(seed, "shuffle", ids[d], int(r)) for d, r in zip(rows, rep_index)), np.uint64, len(rows))
    draws = np.array([unit(seed, "val", i) for i in ids], np.float64)
    take = pa.array(rows, pa.int64())
    return pa.table(
        {
            "key": pa.array(keys, pa.uint64()),
            "val_draw": pa.array(draws[rows], pa.float64()),
            "id": docs.column("id").take(take),
            "source": docs.column("source").take(take),
            "url": docs.column("url").take(take),
            "repeat_index": pa.array(rep_index, pa.int32()),
            "n_tokens": docs.column("n_tokens").take(take),
            "offset": docs.column("offset").take(take),
            "chars": docs.column("chars").take(take),
        },
        schema=INDEX_SCHEMA,
    )


def write_index(batches: list[pa.Table], path: Path) -> pa.Table:
    """Sort a part's instance rows by key and write them (row groups carry key statistics for pruning)."""
    index = pa.concat_tables(batches) if batches else INDEX_SCHEMA.empty_table()
    index = index.sort_by(ORDER)
    pq.write_table(index, path, row_group_size=INDEX_ROW_GROUP)
    return index


def part_summary(index: pa.Table, val_fraction: float) -> dict[str, Any]:
    """Counts of one part for ``plan``: documents, instances and tokens (EOD included) per split, and the
    part's lowest validation draw (the fallback validation document if no document draws one)."""
    first = index.filter(pc.equal(index.column("repeat_index"), 0))
    is_val = pc.less(index.column("val_draw"), val_fraction)
    val_docs = pc.and_(is_val, pc.equal(index.column("repeat_index"), 0))
    tok = pc.add(index.column("n_tokens"), 1)
    out: dict[str, Any] = {
        "docs": first.num_rows,
        "instances": {"train": int(pc.sum(pc.invert(is_val)).as_py() or 0), "val": int(pc.sum(val_docs).as_py() or 0)},
        "tokens": {
            "train": int(pc.sum(pc.filter(tok, pc.invert(is_val))).as_py() or 0),
            "val": int(pc.sum(pc.filter(tok, val_docs)).as_py() or 0),
        },
        "lowest_val": None,
    }
    if first.num_rows:
        i = pc.sort_indices(first, [("val_draw", "ascending"), ("id", "ascending")])[0].as_py()
        doc_id = first.column("id")[i].as_py()
        reps = pc.sum(pc.equal(index.column("id"), doc_id)).as_py()
        out["lowest_val"] = [
            first.column("val_draw")[i].as_py(),
            doc_id,
            first.column("n_tokens")[i].as_py() + 1,
            int(reps),
        ]
    return out


# ---------------------------------------------------------------- pass 2 (driver)


@dataclass
class Layout:
    """The shard plan: shards per split, the buckets that write them, the forced validation document."""

    shards: dict[str, int]
    tokens: dict[str, int]
    buckets: list[dict[str, Any]] = field(default_factory=list)
    forced_val: str | None = None


def plan(summaries: list[dict[str, Any]], val_fraction: float, shard_tokens: int, bucket_tokens: int) -> Layout:
    """Shard counts per split from the parts' counts, and buckets of consecutive shards."""
    inst = {s: sum(p["instances"][s] for p in summaries) for s in SPLITS}
    tokens = {s: sum(p["tokens"][s] for p in summaries) for s in SPLITS}
    docs = sum(p["docs"] for p in summaries)
    forced = None
    if val_fraction > 0 and docs >= 2 and inst["val"] == 0:
        draw, forced, n_tok, reps = min(p["lowest_val"] for p in summaries if p["lowest_val"] is not None)
        inst["train"] -= reps
        tokens["train"] -= reps * n_tok
        inst["val"], tokens["val"] = 1, n_tok
    shards = {s: min(inst[s], max(1, math.ceil(tokens[s] / shard_tokens))) if inst[s] else 0 for s in SPLITS}
    per_bucket = max(1, bucket_tokens // max(1, shard_tokens))
    buckets = [
        {"split": s, "first": k, "stop": min(k + per_bucket, shards[s]), "shards": shards[s]}
        for s in SPLITS
        for k in range(0, shards[s], per_bucket)
    ]
    return Layout(shards, tokens, buckets, forced)


def key_bound(k: int, n_shards: int) -> int:
    """The lowest key of shard ``k`` of ``n_shards`` (``KEY_SPACE`` for k == n_shards)."""
    return -(-k * KEY_SPACE // n_shards)


def shard_name(split: str, k: int) -> str:
    return f"{split}-{k:05d}"


# ---------------------------------------------------------------- pass 3 (a task per bucket)


def _bucket_filter(bucket: dict[str, Any], val_fraction: float, forced: str | None) -> ds.Expression:
    f = ds.field
    is_val = f("val_draw") < val_fraction
    if forced is not None:
        is_val = is_val | (f("id") == forced)
    cond = (is_val & (f("repeat_index") == 0)) if bucket["split"] == "val" else ~is_val
    cond = cond & (f("key") >= pa.scalar(key_bound(bucket["first"], bucket["shards"]), pa.uint64()))
    hi = key_bound(bucket["stop"], bucket["shards"])
    return cond & (f("key") < pa.scalar(hi, pa.uint64())) if hi < KEY_SPACE else cond


def read_bucket(
    bucket: dict[str, Any], parts: list[str], enc_dir: Path, val_fraction: float, forced: str | None
) -> pa.Table:
    """The bucket's instances from every part's index, with ``part``, in ``ORDER``."""
    expr = _bucket_filter(bucket, val_fraction, forced)
    tables = []
    for i, name in enumerate(parts):
        t = pq.read_table(enc_dir / f"{name}.index.parquet", filters=expr, schema=INDEX_SCHEMA)
        tables.append(t.append_column("part", pa.array(np.full(t.num_rows, i, np.int32))))
    if not tables:
        return INDEX_SCHEMA.empty_table().append_column("part", pa.array([], pa.int32()))
    return pa.concat_tables(tables).sort_by(ORDER)


def write_bucket(
    bucket: dict[str, Any],
    parts: list[str],
    enc_dir: str,
    out_dir: str,
    dtype: str,
    eod_id: int,
    val_fraction: float,
    forced: str | None,
) -> dict[str, Any]:
    """Write shards ``bucket["first"]`` .. ``bucket["stop"] - 1`` of a split and their lineage; returns their
    manifest entries (without ``prefix``) and per-source counts. Empty shards are not written."""
    enc, out, dt = Path(enc_dir), Path(out_dir), np.dtype(dtype)
    rows = read_bucket(bucket, parts, enc, val_fraction, forced)
    files = PartFiles([enc / f"{p}.tok" for p in parts], MAX_OPEN_PARTS)
    keys = rows.column("key").to_numpy()
    n = bucket["shards"]
    bounds = [
        int(np.searchsorted(keys, np.uint64(key_bound(k, n)))) if k < n else len(keys)
        for k in range(bucket["first"], bucket["stop"] + 1)
    ]
    entries = []
    try:
        for j, k in enumerate(range(bucket["first"], bucket["stop"])):
            if bounds[j + 1] > bounds[j]:
                entries.append(
                    _write_shard(
                        rows.slice(bounds[j], bounds[j + 1] - bounds[j]),
                        bucket["split"],
                        shard_name(bucket["split"], k),
                        out,
                        files,
                        dt,
                        eod_id,
                    )
                )
    finally:
        files.close()
    return {"split": bucket["split"], "shards": entries, "per_source": _source_counts(rows)}


class PartFiles:
    """Positional reads from the parts' token files, at most ``limit`` open (the least recently used closes)."""

    def __init__(self, paths: list[Path], limit: int):
        self.paths, self.limit = paths, max(1, limit)
        self.fds: OrderedDict[int, int] = OrderedDict()

    def pread(self, part: int, size: int, offset: int) -> bytes:
        fd = self.fds.get(part)
        if fd is None:
            if len(self.fds) >= self.limit:
                os.close(self.fds.popitem(last=False)[1])
            fd = self.fds[part] = os.open(self.paths[part], os.O_RDONLY)
        else:
            self.fds.move_to_end(part)
        return os.pread(fd, size, offset)

    def close(self) -> None:
        while self.fds:
            os.close(self.fds.popitem()[1])


def _write_shard(
    rows: pa.Table, split: str, name: str, out: Path, files: PartFiles, dtype: np.dtype, eod_id: int
) -> dict[str, Any]:
    eod = np.array([eod_id], dtype)
    w = IndexedWriter(out / name, dtype)
    size = dtype.itemsize
    for part, off, n_tok in zip(
        rows.column("part").to_numpy(), rows.column("offset").to_numpy(), rows.column("n_tokens").to_numpy()
    ):
        # pread, not a memmap: mapped pages would count in the task's RSS and grow with the parts read
        w.add(np.concatenate([np.frombuffer(files.pread(int(part), int(n_tok) * size, int(off) * size), dtype), eod]))
    w.close()
    n_tokens = pc.add(rows.column("n_tokens"), 1)
    starts = np.concatenate([[0], np.cumsum(n_tokens.to_numpy())[:-1]]).astype(np.int64)
    lineage = pa.table(
        {
            "split": pa.array([split] * rows.num_rows, pa.string()),
            "shard": pa.array([name] * rows.num_rows, pa.string()),
            "doc_index": pa.array(np.arange(rows.num_rows, dtype=np.int64)),
            "id": rows.column("id"),
            "source": rows.column("source"),
            "url": rows.column("url"),
            "repeat_index": rows.column("repeat_index"),
            "token_offset": pa.array(starts),
            "n_tokens": n_tokens,
        },
        schema=LINEAGE_SCHEMA,
    )
    lineage_path = out / "lineage" / f"{name}.parquet"
    pq.write_table(lineage, lineage_path)
    return {
        "name": name,
        "documents": len(w.lengths),
        "tokens": w.tokens,
        "bin_sha256": w.bin_sha256,
        "idx_sha256": w.idx_sha256,
        "lineage_sha256": file_sha256(lineage_path),
    }


def _source_counts(rows: pa.Table) -> dict[str, dict[str, int]]:
    """Per source: document instances, tokens (with EOD) and characters."""
    if not rows.num_rows:
        return {}
    g = rows.group_by("source").aggregate([("id", "count"), ("n_tokens", "sum"), ("chars", "sum")])
    return {
        s: {"documents": int(d), "tokens": int(t) + int(d), "chars": int(c)}
        for s, d, t, c in zip(
            g.column("source").to_pylist(),
            g.column("id_count").to_pylist(),
            g.column("n_tokens_sum").to_pylist(),
            g.column("chars_sum").to_pylist(),
        )
    }


def merge_buckets(results: list[dict[str, Any]]) -> tuple[dict[str, list], dict[str, dict]]:
    """Manifest ``splits`` (entries in shard order) and ``per_source`` (with characters per token)."""
    splits: dict[str, list] = {s: [] for s in SPLITS}
    per_source: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in SPLITS}
    for r in results:
        splits[r["split"]].extend(r["shards"])
        for src, c in r["per_source"].items():
            acc = per_source[r["split"]].setdefault(src, {"documents": 0, "tokens": 0, "chars": 0})
            for k, v in c.items():
                acc[k] += v
    for per in per_source.values():
        for a in per.values():
            text_tokens = a["tokens"] - a["documents"]
            a["chars_per_token"] = round(a["chars"] / text_tokens, 4) if text_tokens else None
    return splits, {s: dict(sorted(v.items())) for s, v in per_source.items()}
