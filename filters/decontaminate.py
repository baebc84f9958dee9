"""Benchmark decontamination: remove n-gram overlaps with evaluation text, as GPT-3 did (Brown et al. 2020,
appendix C: 13-grams after normalisation; the overlapping span and 200 characters around it removed, a
document cut into more than 10 pieces dropped).

Evaluation sets: ``eval_files`` (JSONL or Parquet with a ``text`` column; each file is one set, named by its
stem), and ``holdout_sources``: the held-out evaluation text of an ablation (``curate.ablate.holdout``: the
same hash rule, seed, share and chunk size), recomputed from this stage's input documents of those sources,
so a recipe decontaminates against exactly what ``curate ablate`` evaluates on. ``fit`` builds the index
once, in parallel tasks (one per file, one per input part for the held-out text): per set, the sorted unique
64-bit hashes of its n-grams, so it grows with the evaluation text, never with the corpus; the runner ships
it to every task. Normalisation: NFKC, lower case, tokens are runs of letters and digits, each CJK
character (Han, kana, Hangul) one token.

``mode: drop`` drops a document with any overlap (reason ``decontam:<set>``, the set with the most
overlapping n-grams); ``mode: cut`` removes every overlapping span widened by ``margin`` characters and drops
the document only when nothing is left or it falls into more than ``max_pieces`` pieces (0: no limit).
Counters per set: ``decontam_<set>_docs`` (documents touched), ``decontam_<set>_ngrams``; ``decontam_chars_cut``.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from curate.ablate.holdout import held_chunks
from curate.batches import read_batches
from curate.config import PATH, SOURCES, bounds
from curate.schema import set_meta
from curate.stage import FitContext, Stage, StageResult

TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]|[^\W_]+")
_MUL = np.uint64(0x9E3779B97F4A7C15)
HOLDOUT = "holdout"


def tokens(text: str) -> tuple[list[int], list[int], list[str]]:
    """(starts, ends, normalised tokens) of ``text``; offsets index ``text`` itself (NFKC is applied per token,
    so it never shifts them)."""
    starts, ends, toks = [], [], []
    for m in TOKEN.finditer(text):
        starts.append(m.start())
        ends.append(m.end())
        toks.append(unicodedata.normalize("NFKC", m.group()).lower())
    return starts, ends, toks


def _token_hash(tok: str) -> int:
    return int.from_bytes(hashlib.blake2b(tok.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def ngram_hashes(toks: list[str], n: int) -> np.ndarray:
    """One stable 64-bit hash per n-gram of ``toks`` (position i: tokens i..i+n-1); empty when fewer than n."""
    if len(toks) < n:
        return np.zeros(0, np.uint64)
    cache: dict[str, int] = {}
    for t in toks:
        if t not in cache:
            cache[t] = _token_hash(t)
    ids = np.fromiter((cache[t] for t in toks), np.uint64, len(toks))
    h = np.zeros(len(toks) - n + 1, np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):  # a polynomial over the window; uint64 arithmetic wraps
            h = h * _MUL + ids[j : len(toks) - n + 1 + j]
    return h


def text_ngrams(texts: Any, n: int) -> np.ndarray:
    """The sorted unique n-gram hashes of an iterable of texts."""
    arrays = [ngram_hashes(tokens(t)[2], n) for t in texts if t]
    return np.unique(np.concatenate(arrays)) if arrays else np.zeros(0, np.uint64)


def _file_texts(path: str) -> Any:
    if path.endswith(".parquet"):
        for batch in read_batches(path, columns=["text"]):
            yield from batch.column("text").to_pylist()
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                yield rec.get("text") if isinstance(rec, dict) else None


def file_ngrams(path: str, n: int) -> np.ndarray:
    """A task: the n-gram hashes of one evaluation file (streamed)."""
    return text_ngrams(_file_texts(path), n)


def holdout_ngrams(part: Path, n: int, sources: list[str], seed: int, share: float, chunk_chars: int) -> np.ndarray:
    """A task: the n-gram hashes of the ablation's held-out chunks of one input part's reference documents."""
    out = []
    for batch in read_batches(part, columns=["source", "text"]):
        for src, text in zip(batch.column("source").to_pylist(), batch.column("text").to_pylist()):
            if src in sources and text:
                out.append(text_ngrams((text[s:e] for s, e, _ in held_chunks(text, seed, share, chunk_chars)), n))
    return np.unique(np.concatenate(out)) if out else np.zeros(0, np.uint64)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


class DecontaminateStage(Stage):
    """Remove n-gram overlaps with evaluation sets (see the module docstring)."""

    name = "decontaminate"

    @dataclass
    class Config:
        ngram: int = field(default=13, metadata=bounds(ge=1, le=64))
        eval_files: list[str] = field(default_factory=list, metadata=PATH)
        holdout_sources: list[str] = field(default_factory=list, metadata=SOURCES)
        holdout_share: float = field(default=0.02, metadata=bounds(gt=0, lt=1))  # as `curate ablate`
        holdout_chunk_chars: int = field(default=4000, metadata=bounds(ge=1))
        mode: Literal["drop", "cut"] = "drop"
        margin: int = field(default=200, metadata=bounds(ge=0))  # characters removed around a cut span
        max_pieces: int = field(default=10, metadata=bounds(ge=0))  # cut into more pieces: dropped; 0: no limit

        def __post_init__(self) -> None:
            if not self.eval_files and not self.holdout_sources:
                raise ValueError("eval_files or holdout_sources: at least one evaluation set is required")
            for i, f in enumerate(self.eval_files):
                if not Path(f).is_file():
                    raise ValueError(f"eval_files[{i}]: no such file: {f!r}")
                if not f.endswith((".jsonl", ".json", ".parquet")):
                    raise ValueError(f"eval_files[{i}]: {f!r} is not .jsonl or .parquet")
            names = [Path(f).stem for f in self.eval_files] + ([HOLDOUT] if self.holdout_sources else [])
            if len(set(names)) != len(names):
                raise ValueError(
                    f"eval_files: two evaluation sets share a name ({', '.join(names)}); name the files apart"
                )

    def set_names(self) -> list[str]:
        return [Path(f).stem for f in self.config.eval_files] + ([HOLDOUT] if self.config.holdout_sources else [])

    def fit(self, ctx: FitContext) -> dict[str, Any]:
        c = self.config
        sets = dict(
            zip(
                [Path(f).stem for f in c.eval_files],
                ctx.map(partial(file_ngrams, n=c.ngram), [str(Path(f).resolve()) for f in c.eval_files]),
            )
        )
        if c.holdout_sources:
            fn = partial(
                holdout_ngrams,
                n=c.ngram,
                sources=list(c.holdout_sources),
                seed=ctx.seed,
                share=c.holdout_share,
                chunk_chars=c.holdout_chunk_chars,
            )
            parts = ctx.map_parts(fn)
            sets[HOLDOUT] = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)
        summary = {name: int(len(h)) for name, h in sets.items()}
        ctx.log(f"[decontaminate] index: {', '.join(f'{k} {v:,} {c.ngram}-grams' for k, v in summary.items())}")
        return {"sets": sets, "summary": {"ngrams": summary}}

    def apply(self, batch: pa.Table, state: dict[str, Any]) -> StageResult:
        counters = {f"decontam_{s}_{k}": 0 for s in state["sets"] for k in ("docs", "ngrams")}
        counters["decontam_chars_cut"] = 0
        drops: dict[int, str] = {}
        errors: dict[int, str] = {}
        texts, metas = batch.column("text").to_pylist(), [{} for _ in range(batch.num_rows)]
        for i, text in enumerate(texts):
            try:
                result = self._one(text or "", state["sets"], counters)
            except Exception as e:  # one bad document must not stop the batch
                errors[i] = f"error:{type(e).__name__}"
                continue
            if result is None:
                continue
            new_text, hits, reason = result
            if reason:
                drops[i] = reason
            else:
                texts[i], metas[i] = new_text, {"decontam": hits}
        table = batch
        if any(metas):  # a cut document: new text and meta (a clean batch is passed through as it is)
            table = set_meta(batch, metas)
            field_ = table.schema.field("text")
            table = table.set_column(table.schema.get_field_index("text"), field_, pa.array(texts, field_.type))
        return StageResult.split(table, drops, errors, self.name, counters)

    def _one(
        self, text: str, sets: dict[str, np.ndarray], counters: dict[str, int]
    ) -> tuple[str, dict[str, int], str | None] | None:
        """None for a clean document, else (cut text, overlapping n-grams per set, drop reason or None)."""
        c = self.config
        starts, ends, toks = tokens(text)
        h = ngram_hashes(toks, c.ngram)
        if not len(h):
            return None
        hit = np.zeros(len(h), bool)
        hits: dict[str, int] = {}
        for name, index in sets.items():
            if len(index):
                pos = np.searchsorted(index, h)
                m = index[np.minimum(pos, len(index) - 1)] == h
                if m.any():
                    hits[name] = int(m.sum())
                    hit |= m
        if not hits:
            return None
        for name, k in hits.items():
            counters[f"decontam_{name}_docs"] += 1
            counters[f"decontam_{name}_ngrams"] += k
        worst = max(hits, key=lambda k: (hits[k], k))
        if c.mode == "drop":
            return text, hits, f"decontam:{worst}"
        spans = _merge(
            [
                (max(0, starts[i] - c.margin), min(len(text), ends[i + c.ngram - 1] + c.margin))
                for i in np.flatnonzero(hit)
            ]
        )
        pieces, pos = [], 0
        for s, e in spans:
            pieces.append(text[pos:s])
            pos = e
        pieces.append(text[pos:])
        kept = [p for p in pieces if p.strip()]
        counters["decontam_chars_cut"] += sum(e - s for s, e in spans)
        if not kept or (c.max_pieces and len(kept) > c.max_pieces):
            return text, hits, f"decontam:{worst}"
        return "\n".join(p.strip("\n") for p in kept), hits, None
