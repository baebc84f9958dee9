"""Standalone dedup of files (``curate dedup``): the ``dedup_exact`` then ``dedup`` stages as a one-source recipe."""
from __future__ import annotations

from typing import Any

from curate.standalone import run_to_file


def dedup_files(inputs: list[str], output: str, threshold: float = 0.8, dropped: str | None = None,
                workers: int = 0, **config: Any) -> dict:
    """Exact + near dedup of JSONL/Parquet documents (globs, several files); kept rows to ``output``,
    dropped and unreadable rows to ``dropped`` (default ``<output>.dropped.<ext>``). ``config``:
    MinHashDedupStage keys (``priority`` also goes to the exact pass)."""
    exact = {"priority": config["priority"]} if "priority" in config else {}
    stages = [{"dedup_exact": exact}, {"dedup": dict(config, threshold=threshold)}]
    res = run_to_file("dedup", list(inputs), stages, output, dropped, workers=workers)
    res["dropped_exact"] = res["dropped"].get("dedup:exact", 0)
    res["dropped_near"] = res["dropped"].get("dedup:near", 0)
    return res
