"""Load and check a shard manifest; draw random training windows from memmapped Megatron shards; load
held-out evaluation text (JSONL) as token streams."""

from __future__ import annotations

import json
import struct
from collections import Counter
from dataclasses import dataclass, field
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
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise refuse(f"{path} is not readable JSON ({e})") from None
    if not isinstance(m, dict):
        raise refuse(f"{path} holds a JSON {type(m).__name__}, not a curate shard manifest")
    for key in ("dtype", "vocab_size", "eod_id", "splits"):
        if key not in m:
            raise refuse(f"{path} has no {key!r}; is it a curate shard manifest?")
    if isinstance(m["vocab_size"], bool) or not isinstance(m["vocab_size"], int) or m["vocab_size"] < 1:
        raise refuse(f"vocab_size {m['vocab_size']!r} is not a positive integer")
    if m["dtype"] not in ("uint16", "int32"):
        raise refuse(f"dtype {m['dtype']!r} is not a token dtype (uint16 or int32)")
    if not isinstance(m["splits"], dict) or not all(isinstance(v, list) for v in m["splits"].values()):
        raise refuse("splits must map each split name to a list of shards")
    if not isinstance(m.get("tokenizer", {}), dict):
        raise refuse(f"tokenizer must be a mapping, got {m['tokenizer']!r}")
    vocab, dtype = m["vocab_size"], np.dtype(m["dtype"])
    if dtype != token_dtype(vocab):
        raise refuse(f"dtype {dtype} does not match vocab size {vocab} (expected {token_dtype(vocab)})")
    tok = path.parent / str(m.get("tokenizer", {}).get("path", ""))
    if tok.is_file():
        import sentencepiece as spm

        try:
            n = spm.SentencePieceProcessor(model_file=str(tok)).vocab_size()
        except (OSError, RuntimeError) as e:
            raise refuse(f"the tokenizer {tok} does not load ({e})") from None
        if n != vocab:
            raise refuse(f"vocab_size {vocab} but the tokenizer {tok} has {n} pieces")
    root = path.parent.resolve()
    splits: dict[str, list[IndexedReader]] = {}
    for split, entries in m["splits"].items():
        splits[split] = []
        for k, e in enumerate(entries):
            if not (isinstance(e, dict) and isinstance(e.get("prefix"), str) and isinstance(e.get("tokens"), int)):
                raise refuse(f"splits.{split}[{k}] needs a 'prefix' (string) and 'tokens' (integer)")
            prefix = path.parent / e["prefix"]
            if not prefix.resolve().is_relative_to(root):
                raise refuse(f"shard {e['prefix']!r} is outside the manifest's directory {root}")
            for ext in (".bin", ".idx"):
                if not prefix.with_suffix(ext).is_file():
                    raise refuse(f"shard file {prefix.with_suffix(ext)} is missing")
            try:
                r = IndexedReader(prefix)
            except (OSError, ValueError, struct.error, IndexError) as e2:
                raise refuse(f"shard {prefix} is unreadable: {e2}") from None
            if r.dtype != dtype:
                raise refuse(f"shard {prefix} holds {r.dtype} tokens but the manifest says {dtype}")
            if r.tokens.size != e["tokens"]:
                raise refuse(f"shard {prefix} has {r.tokens.size} tokens, the manifest says {e['tokens']}")
            if r.tokens.size and int(r.tokens.max()) >= vocab:
                raise refuse(f"shard {prefix} has token id {int(r.tokens.max())} >= vocab_size {vocab}")
            splits[split].append(r)
    if not splits.get("train"):
        raise refuse(f"{path} has no train shards (did every document get dropped? see the run's summary.json)")
    return m, splits


def fits_a_window(readers: list[IndexedReader], block_size: int) -> bool:
    """Whether some shard holds more than ``block_size + 1`` tokens (one training window)."""
    return any(r.tokens.size > block_size + 1 for r in readers)


class Windows:
    """Random ``block_size + 1`` token windows over a split's shards (shards weighted by size)."""

    def __init__(self, readers: list[IndexedReader], block_size: int, seed: int, split: str = "train"):
        self.arrays = [r.tokens for r in readers if r.tokens.size > block_size + 1]
        if not self.arrays:
            biggest = max((r.tokens.size for r in readers), default=0)
            raise refuse(
                f"no {split} shard has more than block_size+1 = {block_size + 1} tokens (the largest has "
                f"{biggest}): too little data for one training window; use more data or fewer, larger "
                "shards (shard_tokens)"
            )
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
            out[i] = a[start : start + self.block + 1]
        return out


@dataclass
class EvalSet:
    """A held-out token stream: ``[EOD] doc1 [EOD] doc2 [EOD] ...``; every document token and every EOD
    after a document is predicted once. ``n_bytes`` is the UTF-8 size of the text those tokens cover."""

    name: str
    path: str
    tokens: np.ndarray
    n_bytes: int
    docs: int
    truncated: bool = False
    skipped: dict[str, int] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "docs": self.docs,
            "tokens": int(self.tokens.size - 1),
            "bytes": self.n_bytes,
            "truncated": self.truncated,
            "skipped": dict(self.skipped),
        }


def eval_names(paths: list[str | Path]) -> dict[str, Path]:
    """``{name: path}`` named by file stem (``wiki.jsonl`` -> ``wiki``); a repeated stem gets ``_2``, ``_3``..."""
    out: dict[str, Path] = {}
    for p in paths:
        stem = Path(p).name.split(".")[0] or "eval"
        name, i = stem, 1
        while name in out:
            i += 1
            name = f"{stem}_{i}"
        out[name] = Path(p)
    return out


def load_eval_jsonl(path: str | Path, name: str, sp: Any, eod_id: int, max_tokens: int) -> EvalSet:
    """Tokenize the ``text`` of each JSON line of ``path`` (in file order) until ``max_tokens`` tokens.

    The document that crosses the cap is cut to fit, and only the text its kept tokens decode to is counted
    in ``n_bytes``, so bits per byte stay exact. Lines that are not a JSON object with a string ``text``, and
    empty texts, are skipped and counted by reason (never a crash)."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"trainer: evaluation file {path} does not exist")
    ids, n_bytes, docs, truncated = [eod_id], 0, 0, False
    skipped: Counter[str] = Counter()
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if len(ids) - 1 >= max_tokens:
                truncated = True
                break
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                skipped["bad_json"] += 1
                continue
            text = rec.get("text") if isinstance(rec, dict) else None
            if not isinstance(text, str):
                skipped["no_text"] += 1
                continue
            if not text:
                skipped["empty_text"] += 1
                continue
            text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> '?'
            toks = sp.encode(text)
            room = max_tokens - (len(ids) - 1) - 1  # leave room for the EOD after the document
            if len(toks) > room:
                toks, truncated = toks[: max(room, 0)], True
                text = sp.decode(toks)
            if not toks:
                break
            ids.extend(toks)
            ids.append(eod_id)
            n_bytes += len(text.encode("utf-8"))
            docs += 1
    if docs == 0:
        raise SystemExit(
            f"trainer: evaluation file {path} has no document with text (skipped: {dict(skipped) or 'none'})"
        )
    return EvalSet(name, str(path), np.asarray(ids, dtype=np.int64), n_bytes, docs, truncated, dict(skipped))
