"""Small jobs run in-process: an embedded Ray costs more than it saves below a measured input size.

Measured on the 256-page sample WARC (5.6 MB; extract, langid, heuristics, exact and near dedup) on a
loaded 2-core machine: in-process 4.3 CPU-s, 374 MB peak summed PSS, 17 s; with an embedded Ray of 1 or 2
workers 10.3-11.4 CPU-s, 860-918 MB and 32-40 s (Ray's GCS, raylet, dashboard, agents, monitors and
workers; ray 2.60 has no public switch for its agents). The job itself costs about 0.8 CPU-s per
compressed MB, so two workers save at most half of that in wall time, less than Ray's start-up below
``DEFAULT_MIN_RAY_INPUT_MB``. ``CURATE_MIN_RAY_INPUT_MB`` sets the size (0: always start Ray when asked);
a run attached to a cluster (``RAY_ADDRESS``) always uses it.
"""

from __future__ import annotations

import os
from typing import Any

DEFAULT_MIN_RAY_INPUT_MB = 16.0
ENV = "CURATE_MIN_RAY_INPUT_MB"


def min_ray_input_bytes() -> int:
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return int(DEFAULT_MIN_RAY_INPUT_MB * 1e6)
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not mb >= 0 or mb == float("inf"):
        from curate.config import RecipeError

        raise RecipeError(f"{ENV}: {raw!r} is not a size in MB (a number >= 0; 0 always starts Ray)")
    return int(mb * 1e6)


def input_bytes_up_to(recipe: Any, limit: int) -> int | None:
    """Bytes of the recipe's local inputs, counted until they pass ``limit``; None for a remote input
    (its size is unknown here, and a remote job is not a small one)."""
    from curate.io import expand_paths, is_url

    total = 0
    for src in recipe.sources:
        try:
            paths = expand_paths(list(src.paths), f"sources.{src.name}.paths")
        except Exception:  # noqa: BLE001 - a bad input is the runner's to report, in its words
            return None
        for path in paths:
            if is_url(path):
                return None
            if os.path.isdir(path):
                for root, _dirs, files in os.walk(path):
                    total += sum(
                        os.path.getsize(os.path.join(root, f)) for f in files if os.path.isfile(os.path.join(root, f))
                    )
                    if total > limit:
                        return total
            elif os.path.isfile(path):
                total += os.path.getsize(path)
            if total > limit:
                return total
    return total


def workers_for(recipe: Any, workers: int) -> tuple[int, str | None]:
    """(workers to use, the line saying why a run asked for Ray goes in-process, or None)."""
    if workers <= 0 or os.environ.get("RAY_ADDRESS"):
        return workers, None
    limit = min_ray_input_bytes()
    if limit <= 0:
        return workers, None
    size = input_bytes_up_to(recipe, limit)
    if size is None or size > limit:
        return workers, None
    return 0, (
        f"workers: running in-process instead of {workers} Ray worker(s): the input ({size / 1e6:.1f} MB) "
        f"is under {limit / 1e6:g} MB, where starting Ray costs more than it saves ({ENV}=0 starts it anyway)"
    )
