"""Held-out evaluation text for an ablation: a hash-selected share of the reference sources' text.

A document of a reference source is cut into line-aligned chunks of at least ``chunk_chars`` characters
(a shorter document is one chunk: itself). A chunk is held out iff ``unit(seed, "holdout", chunk text) <
share``. The rule reads the text only, so identical texts always fall on the same side, and the two places
that apply it agree without sharing state: ``extract_eval_unit`` (run by the ablation driver before any
variant is built) writes the held-out chunks as the evaluation set, and the ``holdout`` stage (the first
stage of every variant) removes them from the training input. The stage drops a document all of whose
chunks are held out (``holdout:eval``) and otherwise keeps it with those chunks cut out (meta
``holdout_chunks``, ``holdout_chars``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.config import bounds
from curate.mix.draws import draw64
from curate.schema import empty_drops, set_meta, with_reason
from curate.stage import FitContext, Stage, StageResult

DROP_REASON = "holdout:eval"


def line_chunks(text: str, chunk_chars: int) -> Iterator[tuple[int, int]]:
    """``[start, end)`` ranges covering ``text``: whole lines, each range at least ``chunk_chars`` long
    (the last one may be shorter)."""
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", start + max(1, chunk_chars) - 1)
        end = n if end < 0 else end + 1
        yield start, end
        start = end


def held_key(seed: int, chunk: str) -> int:
    """The chunk's 64-bit draw; held out iff ``held_key / 2**64 < share``; also its order in the eval file."""
    return draw64(seed, "holdout", chunk)


def held_chunks(text: str, seed: int, share: float, chunk_chars: int) -> list[tuple[int, int, int]]:
    """``(start, end, key)`` of the held-out chunks of ``text`` (whitespace-only chunks never are)."""
    out = []
    for s, e in line_chunks(text, chunk_chars):
        chunk = text[s:e]
        if chunk.strip():
            k = held_key(seed, chunk)
            if k / 2.0**64 < share:
                out.append((s, e, k))
    return out


class HoldoutStage(Stage):
    """Remove the held-out evaluation chunks (see the module docstring) from the documents it sees."""

    name = "holdout"

    @dataclass
    class Config:
        # expected share of chunks held out for evaluation
        share: float = field(default=0.02, metadata=bounds(ge=0, lt=1))
        # documents longer than this are held out by chunks, not whole
        chunk_chars: int = field(default=4000, metadata=bounds(ge=1))

    def fit(self, ctx: FitContext) -> dict[str, Any]:
        return {"seed": ctx.seed}

    def apply(self, batch: pa.Table, state: dict[str, Any]) -> StageResult:
        c, seed = self.config, state["seed"]
        keep, drop, updates, texts = [], [], [], []
        counters: Counter[str] = Counter()
        for i, text in enumerate(batch.column("text").to_pylist()):
            held = held_chunks(text or "", seed, c.share, c.chunk_chars)
            if not held:
                keep.append(i)
                updates.append({})
                texts.append(text)
                continue
            rest, pos = [], 0
            for s, e, _ in held:
                rest.append(text[pos:s])
                pos = e
            rest.append(text[pos:])
            remaining = "".join(rest)
            counters["holdout_chunks"] += len(held)
            counters["holdout_chars"] += len(text) - len(remaining)
            if not remaining.strip():
                drop.append(i)
                continue
            keep.append(i)
            updates.append({"holdout_chunks": len(held), "holdout_chars": len(text) - len(remaining)})
            texts.append(remaining)
        kept = set_meta(batch.take(pa.array(keep, pa.int64())), updates)
        field = kept.schema.field("text")
        kept = kept.set_column(kept.schema.get_field_index("text"), field, pa.array(texts, field.type))
        dropped = with_reason(batch.take(pa.array(drop, pa.int64())), DROP_REASON, self.name) if drop else empty_drops()
        return StageResult(kept=kept, dropped=dropped, counters=dict(counters))


def extract_eval_unit(job: tuple[Any, Any, Path], seed: int, share: float, chunk_chars: int) -> dict[str, Any]:
    """Read one unit of a reference source and write its held-out chunks to ``out`` as JSONL sorted by key
    (so the driver can merge the parts into one file in key order: a prefix of it is a random sample).
    Returns counts. Runs as a task; reads exactly what the runner's read step reads."""
    reader, unit, out = job
    recs: list[dict[str, Any]] = []
    docs_read = 0

    def take(res: StageResult) -> None:  # one streamed batch of the unit: only its held-out chunks are kept
        nonlocal docs_read
        docs_read += res.kept.num_rows
        for doc, url, text in zip(
            res.kept.column("id").to_pylist(), res.kept.column("url").to_pylist(), res.kept.column("text").to_pylist()
        ):
            text = text or ""
            held = held_chunks(text, seed, share, chunk_chars)
            whole = len(held) == 1 and held[0][:2] == (0, len(text))
            for s, e, k in held:
                recs.append(
                    {
                        "key": k,
                        "id": doc if whole else f"{doc}@{s}-{e}",
                        "doc_id": doc,
                        "source": reader.source,
                        "url": url,
                        "start": s,
                        "end": e,
                        "whole": whole,
                        "text": text[s:e],
                    }
                )

    take(reader.read(unit, sink=take))
    recs.sort(key=lambda r: (r["key"], r["id"]))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")  # ASCII: a lone surrogate survives the round trip
    return {
        "docs_read": docs_read,
        "chunks": len(recs),
        "whole_docs": sum(r["whole"] for r in recs),
        "chars": sum(len(r["text"]) for r in recs),
    }
