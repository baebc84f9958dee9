"""Globally shuffled Megatron shards, a validation split and the lineage side table.

Input: per-part token files and document tables from ``tokenizer.encode.encode_part``. Each document
with meta ``repeat = r`` becomes r instances, each placed by its own key ``draw64(seed, "shuffle", id, i)``;
instances are written in key order, so the shards depend only on the documents, the tokenizer and the
seed, not on how documents were split into parts or how many workers encoded them. A document goes to
the validation split iff ``unit(seed, "val", id) < val_fraction`` (all of it, written once: repeating
validation text would only inflate it). Each document is followed by the EOD token; a shard is closed
once it holds ``shard_tokens`` tokens (documents are never split).

Memory: the per-instance index (key, document row) is held in memory; token data is memmapped.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.mix.draws import draw64, unit
from curate.shards.megatron import IndexedWriter

LINEAGE_SCHEMA = pa.schema([("split", pa.string()), ("shard", pa.string()), ("doc_index", pa.int64()),
                            ("id", pa.string()), ("source", pa.string()), ("url", pa.string()),
                            ("repeat_index", pa.int32()), ("token_offset", pa.int64()),
                            ("n_tokens", pa.int64())])


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def load_docs(enc_dir: Path, names: list[str]) -> pa.Table:
    """All parts' document tables, with ``part`` = index into ``names``."""
    tables = []
    for i, n in enumerate(names):
        t = pq.read_table(enc_dir / f"{n}.docs.parquet")
        tables.append(t.append_column("part", pa.array(np.full(t.num_rows, i, np.int32))))
    return pa.concat_tables(tables) if tables else pa.table({})


def order_instances(docs: pa.Table, seed: int, val_fraction: float) -> dict[str, list[tuple[int, int]]]:
    """``{"train"|"val": [(row, repeat_index), ...]}`` in shuffled order."""
    split: dict[str, list[tuple[int, str, int, int]]] = {"train": [], "val": []}
    ids = docs.column("id").to_pylist() if docs.num_rows else []
    reps = docs.column("repeat").to_pylist() if docs.num_rows else []
    draws = [unit(seed, "val", doc) for doc in ids]
    # A small corpus may draw no validation document at all: then the lowest draw goes to val, so a
    # trainer always has something to validate on (with at least two documents).
    forced = min(range(len(ids)), key=lambda i: (draws[i], ids[i])) if (
        val_fraction > 0 and len(ids) >= 2 and not any(d < val_fraction for d in draws)) else -1
    for row, (doc, rep) in enumerate(zip(ids, reps)):
        if draws[row] < val_fraction or row == forced:
            split["val"].append((draw64(seed, "shuffle", doc, 0), doc, 0, row))
        else:
            split["train"].extend((draw64(seed, "shuffle", doc, r), doc, r, row) for r in range(rep))
    return {k: [(row, r) for _, _, r, row in sorted(v)] for k, v in split.items()}


def write_split(split: str, order: list[tuple[int, int]], docs: pa.Table, tokens: list[np.ndarray],
                out_dir: Path, dtype: np.dtype, eod_id: int, shard_tokens: int,
                lineage: pq.ParquetWriter) -> list[dict[str, Any]]:
    """Write one split's shards; returns their manifest entries."""
    cols = {c: docs.column(c).to_pylist() for c in ("id", "source", "url", "n_tokens", "offset", "part")}
    eod = np.array([eod_id], dtype)
    shards: list[dict[str, Any]] = []
    writer: IndexedWriter | None = None
    rows: dict[str, list] = {}

    def close() -> None:
        writer.close()
        lineage.write_table(pa.table(rows, schema=LINEAGE_SCHEMA))
        bin_, idx = writer.prefix.with_suffix(".bin"), writer.prefix.with_suffix(".idx")
        shards.append({"name": writer.prefix.name, "prefix": f"{out_dir.name}/{writer.prefix.name}",
                       "documents": len(writer.lengths), "tokens": writer.tokens,
                       "bin_sha256": file_sha256(bin_), "idx_sha256": file_sha256(idx)})

    for row, r in order:
        if writer is None:
            writer = IndexedWriter(out_dir / f"{split}-{len(shards):05d}", dtype)
            rows = {f.name: [] for f in LINEAGE_SCHEMA}
        start, n = cols["offset"][row], cols["n_tokens"][row]
        for k, v in (("split", split), ("shard", writer.prefix.name), ("doc_index", len(writer.lengths)),
                     ("id", cols["id"][row]), ("source", cols["source"][row]), ("url", cols["url"][row]),
                     ("repeat_index", r), ("token_offset", writer.tokens), ("n_tokens", n + 1)):
            rows[k].append(v)
        writer.add(np.concatenate([tokens[cols["part"][row]][start:start + n], eod]))
        if writer.tokens >= shard_tokens:
            close()
            writer = None
    if writer is not None:
        close()
    return shards


def write_shards(enc_dir: Path, names: list[str], out_dir: Path, dtype: np.dtype, eod_id: int, seed: int,
                 shard_tokens: int, val_fraction: float) -> dict[str, Any]:
    """Write ``out_dir/{train,val}-NNNNN.{bin,idx}`` and ``out_dir/lineage.parquet``; returns a manifest part."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in [*out_dir.glob("*.bin"), *out_dir.glob("*.idx")]:
        old.unlink()  # a re-run must not leave shards of a previous, larger run behind
    docs = load_docs(enc_dir, names)
    tokens = [np.memmap(enc_dir / f"{n}.tok", dtype=dtype, mode="r") if (enc_dir / f"{n}.tok").stat().st_size
              else np.zeros(0, dtype) for n in names]
    orders = order_instances(docs, seed, val_fraction)
    splits: dict[str, Any] = {}
    per_source: dict[str, dict[str, dict[str, int]]] = {}
    with pq.ParquetWriter(out_dir / "lineage.parquet", LINEAGE_SCHEMA) as lineage:
        for split, order in orders.items():
            splits[split] = write_split(split, order, docs, tokens, out_dir, dtype, eod_id, shard_tokens, lineage)
            per_source[split] = _source_counts(docs, order)
    return {"splits": splits, "per_source": per_source, "lineage": f"{out_dir.name}/lineage.parquet"}


def _source_counts(docs: pa.Table, order: list[tuple[int, int]]) -> dict[str, dict[str, Any]]:
    """Per source: document instances, tokens (with EOD), characters and characters per token."""
    acc: dict[str, dict[str, Any]] = {}
    if not order:
        return acc
    src, ntok, chars = (docs.column(c).to_pylist() for c in ("source", "n_tokens", "chars"))
    for row, _ in order:
        a = acc.setdefault(src[row], {"documents": 0, "tokens": 0, "chars": 0})
        a["documents"] += 1
        a["tokens"] += ntok[row] + 1
        a["chars"] += chars[row]
    for a in acc.values():
        text_tokens = a["tokens"] - a["documents"]
        a["chars_per_token"] = round(a["chars"] / text_tokens, 4) if text_tokens else None
    return dict(sorted(acc.items()))
