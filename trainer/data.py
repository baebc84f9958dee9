"""Load and check a shard manifest; draw random training windows from memmapped Megatron shards."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from curate.shards.megatron import IndexedReader, token_dtype


def refuse(msg: str) -> SystemExit:
    return SystemExit(f"trainer: refusing manifest: {msg}")


def load_manifest(path: str | Path) -> tuple[dict[str, Any], dict[str, list[IndexedReader]]]:
    """Read ``manifest.json`` and open its shards; raise SystemExit with a clear message on any mismatch
    (missing files, dtype or vocab that do not agree between manifest, tokenizer and shards)."""
    path = Path(path)
    if not path.is_file():
        raise refuse(f"{path} does not exist")
    m = json.loads(path.read_text(encoding="utf-8"))
    for key in ("dtype", "vocab_size", "eod_id", "splits"):
        if key not in m:
            raise refuse(f"{path} has no {key!r}; is it a curate shard manifest?")
    vocab, dtype = int(m["vocab_size"]), np.dtype(m["dtype"])
    if dtype != token_dtype(vocab):
        raise refuse(f"dtype {dtype} does not match vocab size {vocab} (expected {token_dtype(vocab)})")
    tok = path.parent / m.get("tokenizer", {}).get("path", "")
    if tok.is_file():
        import sentencepiece as spm

        n = spm.SentencePieceProcessor(model_file=str(tok)).vocab_size()
        if n != vocab:
            raise refuse(f"vocab_size {vocab} but the tokenizer {tok} has {n} pieces")
    splits: dict[str, list[IndexedReader]] = {}
    for split, entries in m["splits"].items():
        splits[split] = []
        for e in entries:
            prefix = path.parent / e["prefix"]
            for ext in (".bin", ".idx"):
                if not prefix.with_suffix(ext).is_file():
                    raise refuse(f"shard file {prefix.with_suffix(ext)} is missing")
            r = IndexedReader(prefix)
            if r.dtype != dtype:
                raise refuse(f"shard {prefix} holds {r.dtype} tokens but the manifest says {dtype}")
            if r.tokens.size != e["tokens"]:
                raise refuse(f"shard {prefix} has {r.tokens.size} tokens, the manifest says {e['tokens']}")
            if r.tokens.size and int(r.tokens.max()) >= vocab:
                raise refuse(f"shard {prefix} has token id {int(r.tokens.max())} >= vocab_size {vocab}")
            splits[split].append(r)
    if not splits.get("train"):
        raise refuse(f"{path} has no train shards")
    return m, splits


class Windows:
    """Random ``block_size + 1`` token windows over a split's shards (shards weighted by size)."""

    def __init__(self, readers: list[IndexedReader], block_size: int, seed: int):
        self.arrays = [r.tokens for r in readers if r.tokens.size > block_size + 1]
        if not self.arrays:
            raise refuse(f"no shard has more than block_size+1 = {block_size + 1} tokens")
        sizes = np.array([a.size - block_size - 1 for a in self.arrays], dtype=np.float64)
        self.p = sizes / sizes.sum()
        self.block = block_size
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> np.ndarray:
        """An ``(n, block_size + 1)`` int64 array; inputs are ``[:, :-1]``, targets ``[:, 1:]``."""
        which = self.rng.choice(len(self.arrays), size=n, p=self.p)
        out = np.empty((n, self.block + 1), dtype=np.int64)
        for i, s in enumerate(which):
            a = self.arrays[s]
            start = int(self.rng.integers(0, a.size - self.block - 1))
            out[i] = a[start:start + self.block + 1]
        return out
