"""``curate filter``: a recipe's filter stages over JSONL/Parquet documents, run by the generic runner.

Runs the recipe's ``langid``, ``clean_lines``, ``heuristics`` and ``quality`` stages in recipe order
(honouring ``only:``; other stages are skipped; default: ``DEFAULT_STAGES``) over the inputs (globs,
several files, compression and format by extension; see ``curate.standalone``), writes kept documents to
``output`` and dropped/errored rows with ``reason`` and ``stage`` to ``dropped_path`` (default
``<output>.dropped.<ext>``), and returns the counts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

FILTER_STAGES = ("langid", "heuristics", "clean_lines", "quality")
DEFAULT_STAGES: list[tuple[str, dict, list[str] | None]] = [("langid", {}, None), ("clean_lines", {}, None),
                                                             ("heuristics", {}, None)]


def _stage_specs(recipe_path: str | Path | None) -> tuple[list[tuple[str, dict, list[str] | None]], int]:
    if recipe_path is None:
        return DEFAULT_STAGES, 0
    from curate.recipe import load_recipe

    recipe = load_recipe(recipe_path, source_paths=False)  # only its stages run here
    return [(s.stage, s.config, s.only) for s in recipe.stages if s.stage in FILTER_STAGES], recipe.seed


def run_filters(input_path: str | Path | list, output_path: str | Path, recipe_path: str | Path | None = None,
                dropped_path: str | Path | None = None, workers: int = 0) -> dict[str, Any]:
    """Filter documents with the recipe's filter stages (default ``DEFAULT_STAGES``)."""
    from curate.standalone import run_to_file

    inputs = [str(p) for p in input_path] if isinstance(input_path, (list, tuple)) else [str(input_path)]
    specs, seed = _stage_specs(recipe_path)
    stages = [{name: cfg, **({"only": only} if only else {})} for name, cfg, only in specs]
    return run_to_file("filter", inputs, stages, output_path, dropped_path, seed=seed, workers=workers)
