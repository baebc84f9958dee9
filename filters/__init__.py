"""Quality filtering: language ID, Gopher/C4/FineWeb heuristics, line cleaning, GPT-3 quality classifier."""
from __future__ import annotations

from pathlib import Path


def run_filters(input_path: str | Path, output_path: str | Path, recipe_path: str | Path | None = None,
                dropped_path: str | Path | None = None) -> dict:
    """Apply a recipe's filter stages to one JSONL/Parquet file (see ``filters.run``)."""
    from filters.run import run_filters as _run

    return _run(input_path, output_path, recipe_path=recipe_path, dropped_path=dropped_path)


__all__ = ["run_filters"]
