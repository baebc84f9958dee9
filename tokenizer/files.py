"""Standalone entry points (no recipe): train a tokenizer on files, or tokenize files into shards."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.mix.planner import as_parquet_parts
from curate.schema import DOC_SCHEMA
from curate.stage import FitContext
from tokenizer.stage import TokenizeStage


def _serial(fn: Any, items: Any) -> list[Any]:
    return [fn(x) for x in items]


def train_tokenizer(inputs: list[str], out_dir: str, vocab_size: int = 8000, sample_chars: int = 20_000_000,
                    eod_token: str = "<|endoftext|>", special_tokens: list[str] | None = None,
                    byte_fallback: bool = True, seed: int = 0) -> str:
    """Train BPE on JSONL/Parquet documents; returns the path of ``out_dir/tokenizer/tokenizer.model``."""
    stage = TokenizeStage(TokenizeStage.Config(vocab_size=vocab_size, sample_chars=sample_chars,
                                               eod_token=eod_token, special_tokens=special_tokens or [],
                                               byte_fallback=byte_fallback))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        ctx = FitContext(as_parquet_parts(inputs, Path(tmp)), Path(tmp), seed, _serial, run_dir=out)
        return stage.fit(ctx)["model"]


def tokenize_files(inputs: list[str], out_dir: str, model: str, shard_tokens: int = 2**24,
                   val_fraction: float = 0.01, eod_token: str = "<|endoftext|>", seed: int = 0) -> dict[str, Any]:
    """Encode JSONL/Parquet documents with ``model`` into ``out_dir/shards`` + ``out_dir/manifest.json``.

    The documents themselves are kept in ``out_dir/documents/`` so ``curate trace`` can show their text.
    """
    stage = TokenizeStage(TokenizeStage.Config(model=model, shard_tokens=shard_tokens,
                                               val_fraction=val_fraction, eod_token=eod_token))
    out = Path(out_dir)
    docs_dir = out / "documents"
    shutil.rmtree(docs_dir, ignore_errors=True)
    docs_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        parts = as_parquet_parts(inputs, Path(tmp))
        state = stage.fit(FitContext(parts, Path(tmp), seed, _serial, run_dir=out))
        kept_parts, dropped = [], 0
        for i, part in enumerate(parts):
            res = stage.apply(pq.read_table(part).select([f.name for f in DOC_SCHEMA]).cast(DOC_SCHEMA), state)
            dropped += res.dropped.num_rows
            dst = docs_dir / f"part-{i:05d}.parquet"
            pq.write_table(pa.Table.from_batches(res.kept.to_batches(), DOC_SCHEMA), dst)
            kept_parts.append(dst)
        summary = stage.finalize(FitContext(kept_parts, Path(tmp), seed, _serial, run_dir=out), state)
    return {**summary["tokenize"], "dropped_empty": dropped, "manifest": str(out / "manifest.json")}
