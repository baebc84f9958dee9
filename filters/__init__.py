"""Quality filtering: language ID, Gopher/C4/FineWeb heuristics, line cleaning, GPT-3 quality classifier."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def run_filters(input_path: str | Path | list, output_path: str | Path, recipe_path: str | Path | None = None,
                dropped_path: str | Path | None = None, workers: int = 0) -> dict[str, Any]:
    """Apply a recipe's filter stages to JSONL/Parquet documents (see ``filters.run``)."""
    from curate.filters.run import run_filters as _run

    return _run(input_path, output_path, recipe_path=recipe_path, dropped_path=dropped_path, workers=workers)


__all__ = ["run_filters"]
