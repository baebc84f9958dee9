"""Standalone entry points (``curate train-tokenizer``, ``curate tokenize``), run by the generic runner.

The output directory is the run directory: ``stages/`` (the documents read, and for ``tokenize`` the
documents encoded, which ``curate trace`` shows), ``tokenizer/``, ``shards/`` and ``manifest.json``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from curate.stage import FitContext
from curate.standalone import log_stderr, result, run_recipe
from curate.tokenizer.stage import TokenizeStage


def _serial(fn: Any, items: Any) -> list[Any]:
    return [fn(x) for x in items]


def train_tokenizer(inputs: list[str], out_dir: str, vocab_size: int = 8000, sample_chars: int = 20_000_000,
                    eod_token: str = "<|endoftext|>", special_tokens: list[str] | None = None,
                    byte_fallback: bool = True, seed: int = 0, workers: int = 0) -> str:
    """Train BPE on JSONL/Parquet documents; returns the path of ``out_dir/tokenizer/tokenizer.model``."""
    stage = TokenizeStage.from_dict({"vocab_size": vocab_size, "sample_chars": sample_chars, "eod_token": eod_token,
                                     "special_tokens": special_tokens or [], "byte_fallback": byte_fallback},
                                    "train-tokenizer")
    out = Path(out_dir)
    run_recipe("train-tokenizer", list(inputs), [], out, seed=seed, workers=workers)
    parts = sorted((out / "stages" / "00_read").glob("part-*.parquet"))
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    return stage.fit(FitContext(parts, work, seed, _serial, run_dir=out, log=log_stderr))["model"]


def tokenize_files(inputs: list[str], out_dir: str, model: str, shard_tokens: int = 2**24,
                   val_fraction: float = 0.01, eod_token: str = "<|endoftext|>", seed: int = 0,
                   workers: int = 0) -> dict[str, Any]:
    """Encode JSONL/Parquet documents with ``model`` into ``out_dir/shards`` + ``out_dir/manifest.json``."""
    cfg = {"model": str(Path(model).resolve()), "shard_tokens": shard_tokens, "val_fraction": val_fraction,
           "eod_token": eod_token}
    summary = run_recipe("tokenize", list(inputs), [{"tokenize": cfg}], out_dir, seed=seed, workers=workers)
    res = result(summary)
    fin = res["stages"][-1].get("finalize", {}).get("tokenize", {})
    return {**res, **fin, "manifest": str(Path(out_dir) / "manifest.json")}
