"""Per-document plumbing shared by the filter stages: run a decision function over a batch and split
it into kept / dropped / errored tables, so every row is accounted for and no bad document raises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from curate.schema import meta_array, meta_dicts, with_reason
from curate.stage import StageResult


@dataclass
class Verdict:
    """One document's outcome: ``reason`` None keeps it; ``meta`` is merged (values keep their types:
    a score stays a number); ``text`` replaces it."""

    reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


DocFn = Callable[[str, dict[str, Any], str], Verdict]


def run_docs(batch: pa.Table, stage: str, fn: DocFn, counters: dict[str, int] | None = None) -> StageResult:
    """Apply ``fn(text, meta, id)`` to every row; exceptions become ``error:<Type>`` rows."""
    texts = batch.column("text").to_pylist()
    ids = batch.column("id").to_pylist()
    metas = meta_dicts(batch)
    reasons: list[str | None] = []
    errors: list[str | None] = []
    new_texts: list[str | None] = []
    text_changed = False
    for text, meta, did in zip(texts, metas, ids):
        try:
            v = fn(text if isinstance(text, str) else "", meta, did)
        except Exception as e:  # a bad document must not stop the batch
            reasons.append(None)
            errors.append(f"error:{type(e).__name__}")
            new_texts.append(text)
            continue
        errors.append(None)
        reasons.append(v.reason)
        meta.update(v.meta)
        if v.text is not None and v.text != text:
            text_changed = True
            new_texts.append(v.text)
        else:
            new_texts.append(text)
    table = batch.set_column(batch.schema.get_field_index("meta"), batch.schema.field("meta"), meta_array(metas))
    if text_changed:
        table = table.set_column(
            table.schema.get_field_index("text"),
            table.schema.field("text"),
            pa.array(new_texts, table.schema.field("text").type),
        )
    keep = pa.array([r is None and e is None for r, e in zip(reasons, errors)], pa.bool_())
    drop_idx = [i for i, r in enumerate(reasons) if r is not None]
    err_idx = [i for i, e in enumerate(errors) if e is not None]
    return StageResult(
        kept=table.filter(keep),
        dropped=with_reason(table.take(pa.array(drop_idx, pa.int64())), [reasons[i] for i in drop_idx], stage),
        errors=with_reason(table.take(pa.array(err_idx, pa.int64())), [errors[i] for i in err_idx], stage),
        counters=dict(counters or {}),
    )
