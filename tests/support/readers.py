"""What a reader's result holds, in one comparable value."""

from __future__ import annotations

from collections import Counter


def counts(res) -> tuple[int, Counter, Counter]:
    """(kept rows, drop reasons, error reasons) of a reader's ``StageResult``."""
    return (
        res.kept.num_rows,
        Counter(res.dropped.column("reason").to_pylist()),
        Counter(res.errors.column("reason").to_pylist()),
    )


def read_units(reader, paths: list[str]) -> tuple[list[dict], Counter, Counter]:
    """Every unit of ``paths`` read by ``reader``: (kept rows, drop reasons, error reasons)."""
    kept, dropped, errors = [], Counter(), Counter()
    for u in reader.units(paths):
        res = reader.read(u)
        kept += res.kept.to_pylist()
        dropped.update(res.dropped.column("reason").to_pylist())
        errors.update(res.errors.column("reason").to_pylist())
    return kept, dropped, errors
