"""Token-budget mixture planner (GPT-3 Table 2.2 style): per-source sampling rates and epochs.

Token counts here are *estimates* (the tokenizer is trained after mixing): ``ceil(utf8_bytes / 4)``,
the usual ~4 bytes per BPE token of English text. The table says so. After sampling, ``finalize``
recounts the realised (repeat-weighted) estimate from the stage's outputs.

Rates: ``rate_s = target * w_s / available_s`` (weights normalised over sources that have data).
``rate < 1``: a document is kept iff ``unit(seed, id) < rate`` (else dropped ``mix:downsample``);
a long one (``window_min_tokens`` or more) is instead always kept, cut to a contiguous, line-aligned
window of ``rate`` of its text at a seeded position (meta ``window = start-end/chars``): a source of a few
books at 0.68 epochs then gets 0.68 of each book, not all or nothing of each.
``rate >= 1``: every document is kept with meta ``repeat = floor(rate) + (unit(seed, id) < frac(rate))``;
rows are not duplicated here, the shard writer writes a document ``repeat`` times.
``target_tokens: null`` sets the budget to the total available tokens (the corpus' size at the recipe's
proportions); a source too small for its weight is then capped at ``max_epochs`` repeats (warned), so
the realised mix under-weights it rather than shrinking every other source to match it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.batches import read_batches
from curate.config import SOURCES, bounds
from curate.mix.draws import unit
from curate.schema import empty_drops, meta_dicts, set_meta, with_reason
from curate.stage import FitContext, Stage, StageResult

BYTES_PER_TOKEN = 4


def estimate_tokens(nbytes: int) -> int:
    """Estimated BPE tokens for ``nbytes`` of UTF-8 text (see module docstring)."""
    return -(-int(nbytes) // BYTES_PER_TOKEN)


def _doc_bytes(table: pa.Table) -> pa.Array:
    return pc.binary_length(pc.fill_null(table.column("text"), ""))


def count_part(path: Path, weighted: bool = False) -> dict[str, list[int]]:
    """``{source: [docs, utf8_bytes]}`` of one Parquet part; ``weighted`` multiplies by meta ``repeat``.
    Streamed a batch at a time: the part's text is never held whole (and only its byte lengths are read)."""
    cols = ["source", "text"] + (["meta"] if weighted else [])
    out: dict[str, list[int]] = {}
    for t in read_batches(path, cols):
        nbytes = _doc_bytes(t).to_pylist()
        reps = [int(m.get("repeat", 1)) for m in meta_dicts(t)] if weighted else [1] * t.num_rows
        for src, b, r in zip(t.column("source").to_pylist(), nbytes, reps):
            acc = out.setdefault(src, [0, 0])
            acc[0] += r
            acc[1] += b * r
    return out


def merge_counts(counts: list[dict[str, list[int]]]) -> dict[str, list[int]]:
    total: dict[str, list[int]] = {}
    for c in counts:
        for src, (d, b) in c.items():
            acc = total.setdefault(src, [0, 0])
            acc[0] += d
            acc[1] += b
    return dict(sorted(total.items()))


@dataclass
class MixPlan:
    target_tokens: int
    rows: list[dict[str, Any]]  # source, docs, available_tokens, weight, target_tokens, epochs
    rates: dict[str, float]
    warnings: list[str]


def check_weights(weights: dict[str, float]) -> None:
    """Weights must be a non-empty mapping of finite non-negative numbers, at least one positive, whose sum is a
    finite number (1e308 twice overflows); raises ValueError naming ``weights``."""
    if not weights or any(not math.isfinite(w) or w < 0 for w in weights.values()):
        raise ValueError(f"weights: must be a non-empty mapping of finite non-negative numbers, got {weights}")
    if not any(w > 0 for w in weights.values()):
        raise ValueError(f"weights: every weight is 0, so no document would be kept: {weights}")
    if not math.isfinite(sum(weights.values())):
        raise ValueError(
            f"weights: their sum overflows (the largest is {max(weights.values()):g}); "
            "weights are proportions: scale them down"
        )


def plan_mix(
    counts: dict[str, list[int]], weights: dict[str, float], target_tokens: int | None, max_epochs: float
) -> MixPlan:
    """Rates and epochs per source from ``{source: [docs, bytes]}`` and the recipe's weights."""
    check_weights(weights)
    warnings = []
    avail = {s: estimate_tokens(b) for s, (_, b) in counts.items()}
    for s in sorted(set(weights) - {s for s, a in avail.items() if a > 0}):
        warnings.append(f"mix: source {s!r} has weight {weights[s]} but no tokens; its weight is redistributed")
    for s in sorted(set(avail) - set(weights)):
        warnings.append(f"mix: source {s!r} has no weight; its documents are dropped (mix:unweighted)")
    live = {s: w for s, w in weights.items() if avail.get(s, 0) > 0}
    wsum = sum(live.values())
    if wsum <= 0:
        why = (
            " (no document reached this stage: see the counts logged above, and dropped/ and errors/)"
            if not any(avail.values())
            else ""
        )
        raise ValueError(f"mix: no weighted source has any tokens (weights {weights}, sources {sorted(avail)}){why}")
    norm = {s: w / wsum for s, w in live.items()}
    auto = target_tokens is None
    if auto:
        target_tokens = int(sum(avail[s] for s in norm))
    rates = {s: target_tokens * w / avail[s] for s, w in norm.items()}
    if auto:  # no explicit budget: a source too small for its weight is repeated at most max_epochs
        for s, r in rates.items():
            if r > max_epochs:
                warnings.append(
                    f"mix: source {s!r} needs {r:.2f} epochs for its weight; capped at "
                    f"max_epochs {max_epochs} (its realised weight is lower)"
                )
                rates[s] = max_epochs
    rows = []
    for s in sorted(set(avail) | set(weights)):
        rate = rates.get(s, 0.0)
        rows.append(
            {
                "source": s,
                "docs": counts.get(s, [0, 0])[0],
                "available_tokens": avail.get(s, 0),
                "weight": norm.get(s, 0.0),
                "target_tokens": round(rate * avail.get(s, 0)),
                "epochs": rate,
            }
        )
        if rate > max_epochs and not auto:
            warnings.append(f"mix: source {s!r} would be repeated {rate:.2f} epochs (> max_epochs {max_epochs})")
    return MixPlan(target_tokens=target_tokens, rows=rows, rates=rates, warnings=warnings)


def line_window(text: str, fraction: float, u: float) -> tuple[int, int]:
    """Character range ``[start, end)`` of about ``fraction`` of ``text``, starting at position ``u`` (in
    [0, 1)) of the possible starts, widened to whole lines."""
    n = len(text)
    width = round(n * fraction)
    if width <= 0:
        return 0, 0
    start = text.rfind("\n", 0, int(u * (n - width)) + 1) + 1
    end = text.find("\n", start + width)
    return start, n if end < 0 else end


def format_table(rows: list[dict[str, Any]], title: str, tokens_key: str = "target_tokens") -> str:
    """A plain-text table like GPT-3's Table 2.2 (tokens are estimates: utf-8 bytes / 4)."""
    head = f"{'source':<12} {'docs':>9} {'est. tokens':>14} {'weight':>7} {'est. mix tokens':>16} {'epochs':>7}"
    lines = [title, head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['source']:<12} {r['docs']:>9,} {r['available_tokens']:>14,} {r['weight']:>7.1%} "
            f"{r[tokens_key]:>16,} {r['epochs']:>7.2f}"
        )
    tot = sum(r[tokens_key] for r in rows)
    lines.append(
        f"{'total':<12} {sum(r['docs'] for r in rows):>9,} "
        f"{sum(r['available_tokens'] for r in rows):>14,} {'':>7} {tot:>16,}"
    )
    lines.append("(tokens estimated as ceil(utf-8 bytes / 4); epochs = mix tokens / available tokens)")
    return "\n".join(lines)


class MixStage(Stage):
    """Sample sources to the recipe's weights and token budget; marks up-sampled docs with meta ``repeat``."""

    name = "mix"

    @dataclass
    class Config:
        # by source name; normalised to sum to 1 over sources that have data
        weights: dict[str, float] = field(metadata=bounds(ge=0) | SOURCES)
        target_tokens: int | None = field(default=None, metadata=bounds(ge=1))  # None: see the module docstring
        # warn when a source would be repeated more often than this
        max_epochs: float = field(default=10.0, metadata=bounds(gt=0))
        # down-sample docs this long by a window, not a draw (None: off)
        window_min_tokens: int | None = field(default=50_000, metadata=bounds(ge=1))

        def check(self) -> None:  # degenerate weights: refused when the recipe is read (curate.recipe.build_config)
            check_weights(self.weights)

    def fit(self, ctx: FitContext) -> dict[str, Any]:
        counts = merge_counts(ctx.map_parts(count_part))
        plan = plan_mix(counts, self.config.weights, self.config.target_tokens, self.config.max_epochs)
        text = format_table(
            plan.rows, f"mixture plan (target {plan.target_tokens:,} estimated tokens, seed {ctx.seed})"
        )
        ctx.log(text)
        for w in plan.warnings:
            ctx.log("WARNING " + w)
        return {
            "rates": plan.rates,
            "seed": ctx.seed,
            "summary": {
                "target_tokens": plan.target_tokens,
                "table": plan.rows,
                "table_text": text,
                "warnings": plan.warnings,
                "token_estimate": "ceil(utf8_bytes/4)",
            },
        }

    def apply(self, batch: pa.Table, state: dict[str, Any]) -> StageResult:
        rates, seed = state["rates"], state["seed"]
        keep, drop, reasons, updates = [], [], [], []
        nbytes = _doc_bytes(batch).to_pylist()
        counters: Counter[str] = Counter()
        windows: dict[int, str] = {}  # position in ``keep`` -> windowed text
        min_win = self.config.window_min_tokens
        for i, (doc, src) in enumerate(zip(batch.column("id").to_pylist(), batch.column("source").to_pylist())):
            rate = rates.get(src)
            u = unit(seed, "mix", doc)
            update: dict[str, Any] = {"repeat": 1}
            if rate is not None and rate < 1 and min_win is not None and estimate_tokens(nbytes[i]) >= min_win:
                text = batch.column("text")[i].as_py()
                start, end = line_window(text, rate, unit(seed, "mix-window", doc))
                if start < end:  # else the window is empty: dropped below like any down-sampled doc
                    windows[len(keep)] = piece = text[start:end]
                    nbytes[i] = len(piece.encode("utf-8", "surrogatepass"))
                    update["window"] = f"{start}-{end}/{len(text)}"
                    u = 0.0
                    counters["mix_windowed"] += 1
            if rate is None or rate < 1 and u >= rate:
                drop.append(i)
                reasons.append("mix:unweighted" if rate is None else "mix:downsample")
                continue
            if rate >= 1:
                update["repeat"] = math.floor(rate) + (u < rate - math.floor(rate))
            keep.append(i)
            updates.append(update)
            counters["mix_instances"] += update["repeat"]
            counters[f"mix_est_tokens:{src}"] += update["repeat"] * estimate_tokens(nbytes[i])
        kept = set_meta(batch.take(pa.array(keep, pa.int64())), updates)
        if windows:
            texts = kept.column("text").to_pylist()
            for j, t in windows.items():
                texts[j] = t
            field = kept.schema.field("text")
            kept = kept.set_column(kept.schema.get_field_index("text"), field, pa.array(texts, field.type))
        dropped = with_reason(batch.take(pa.array(drop, pa.int64())), reasons, self.name) if drop else empty_drops()
        return StageResult(kept=kept, dropped=dropped, counters=dict(counters))

    def finalize(self, ctx: FitContext, state: dict[str, Any]) -> dict[str, Any]:
        """Recount the realised mix from this stage's outputs (repeat-weighted) and print the final table."""
        counts = merge_counts(ctx.map_parts(_count_weighted))
        planned = {r["source"]: r for r in state["summary"]["table"]}
        rows = []
        for s, r in planned.items():
            docs, b = counts.get(s, [0, 0])
            mix = estimate_tokens(b)
            rows.append(
                {
                    **r,
                    "docs": r["docs"],
                    "mix_tokens": mix,
                    "epochs": mix / r["available_tokens"] if r["available_tokens"] else 0.0,
                    "instances": docs,
                }
            )
        text = format_table(rows, "realised mixture (after sampling)", tokens_key="mix_tokens")
        ctx.log(text)
        return {"mix": {**state["summary"], "realised": rows, "realised_text": text}}


def _count_weighted(path: Path) -> dict[str, list[int]]:
    return count_part(path, weighted=True)
