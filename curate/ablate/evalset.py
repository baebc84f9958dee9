"""The evaluation set of an ablation, written before any variant is built (see ``curate.ablate.holdout``)."""

from __future__ import annotations

import heapq
import json
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.ablate.holdout import extract_eval_unit
from curate.config import RecipeError, build_config
from curate.io import expand_paths, write_json_atomic
from curate.partio import file_sha256
from curate.registry import reader_class

if TYPE_CHECKING:
    from curate.executor import Executor


def build_eval_set(
    recipe: Any,
    reference: list[str],
    holdout: dict[str, Any],
    out: Path,
    executor: Executor,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Write ``out/<source>.jsonl`` (held-out chunks, in draw order) for each reference source and
    ``out/eval.json`` (the rule, counts and file hashes); returns the latter."""
    shutil.rmtree(out, ignore_errors=True)
    (out / "parts").mkdir(parents=True)
    jobs, owner = [], []
    for i, s in enumerate(recipe.sources):
        if s.name not in reference:
            continue
        cls = reader_class(s.format, f"sources[{i}].format")
        reader = cls(s.name, s.kind, build_config(cls.Config, s.options, f"sources[{i}].options"))
        try:
            paths = expand_paths(s.paths, f"sources[{i}] ({s.name}).paths")
        except FileNotFoundError as e:
            raise RecipeError(str(e)) from None
        for unit in reader.units(paths):
            jobs.append((reader, unit, out / "parts" / f"{s.name}-{len(jobs):05d}.jsonl"))
            owner.append(s.name)
    fn = partial(extract_eval_unit, seed=recipe.seed, share=holdout["share"], chunk_chars=holdout["chunk_chars"])
    counts = executor.map(fn, jobs)
    sources: dict[str, Any] = {}
    for name in reference:
        parts = [j[2] for j, o in zip(jobs, owner) if o == name]
        dst = out / f"{name}.jsonl"
        _merge_sorted(parts, dst)
        agg = {
            k: sum(c[k] for c, o in zip(counts, owner) if o == name)
            for k in ("docs_read", "chunks", "whole_docs", "chars")
        }
        sources[name] = {"file": dst.name, "sha256": file_sha256(dst), **agg}
        log(
            f"eval set: {name}: {agg['chunks']:,} held-out chunks ({agg['whole_docs']:,} whole documents, "
            f"{agg['chars']:,} characters) of {agg['docs_read']:,} documents"
        )
    shutil.rmtree(out / "parts")
    record = {
        "rule": {
            "share": holdout["share"],
            "chunk_chars": holdout["chunk_chars"],
            "seed": recipe.seed,
            "draw": "unit(seed, 'holdout', chunk text) < share (curate.ablate.holdout)",
        },
        "reference_sources": reference,
        "sources": sources,
    }
    write_json_atomic(record, out / "eval.json")
    return record


def _merge_sorted(parts: list[Path], dst: Path) -> None:
    """Merge JSONL part files, each sorted by (key, id), into one file in that order (streaming)."""
    files = [open(p, encoding="utf-8") for p in parts]
    try:

        def keyed(f: Any) -> Any:
            for line in f:
                r = json.loads(line)
                yield (r["key"], r["id"]), line

        with open(dst, "w", encoding="utf-8") as w:
            for _, line in heapq.merge(*(keyed(f) for f in files)):
                w.write(line)
    finally:
        for f in files:
            f.close()
