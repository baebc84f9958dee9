"""What a run will do, before it does it: ``curate run --dry-run`` and the estimate logged at the start.

Figures are estimates from the inputs' sizes and the engine's fixed batch and task sizes, not
measurements: the expansion of a reader unit in memory (about 25x for gzip/bzip2 inputs, measured on
WARC; 4x for plain text) and the size of Parquet outputs (about 0.45x of the text they hold, the upper end
of what ``python -m bench scale`` measured) are the assumptions, and are printed with the figures.
"""

from __future__ import annotations

import inspect
import math
import os
from typing import TYPE_CHECKING, Any

from curate.io import is_url
from curate.partio import BATCH_BYTES, TASK_BYTES
from curate.sources.base import MIN_RANGE_BYTES
from curate.sources.idnames import unique_id_names

if TYPE_CHECKING:
    from pathlib import Path

    from curate.plan import Segment
    from curate.recipe import Recipe

WORKER_BASE = 250 << 20  # a Ray worker with pyarrow, numpy and the stage modules imported
COMPRESSED = (".gz", ".bz2", ".zst", ".xz")
PARQUET_PER_TEXT_BYTE = 0.45
# CPU seconds per input MB for the stages before dedup (read, extract, filters, quality, mix, tokenize),
# measured here: e2e recipe on the corpus WARC (compressed) and ``bench scale`` at 1e5 (JSONL text)
CPU_S_PER_MB = {"compressed": 0.7, "text": 0.4}


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n < 1e10 else f"{n / 1e9:,.1f} GB"


def _dur(s: float) -> str:
    return f"{s:,.0f} s" if s < 120 else f"{s / 60:,.0f} min" if s < 7200 else f"{s / 3600:,.1f} h"


def unit_bytes(unit) -> int:
    """Input bytes a reader unit covers (0 when unknown, e.g. a remote file)."""
    if is_url(unit.path) or not os.path.isfile(unit.path):
        return 0
    end = unit.end if unit.end is not None else os.path.getsize(unit.path)
    return max(0, end - unit.start)


def unit_text_bytes(unit) -> int:
    """About how many bytes of text a unit holds (compressed inputs count ~5x their size)."""
    return unit_bytes(unit) * (5 if str(unit.path).endswith(COMPRESSED) else 1)


MAX_UNITS_PER_TASK = 4096  # a task's bookkeeping per unit stays small; 10,000 tiny files are 3 tasks
# The read step is cut into about this many tasks when its input allows (files into record-aligned ranges,
# small files packed): 4 per worker on up to 8 workers, so no worker idles while one task reads a whole
# file. A number, not the worker count: units, parts and outputs are the same for any number of workers.
READ_TASKS = 32
# A later segment's task reads at least this much: every task costs its part files and, in dedup, a
# signature call; on the sample WARC's 14 MB, 4 tasks add 0.1 CPU-s to dedup's fit in-process, 13 add 0.33.
MIN_SLICE_TASK_BYTES = 4 << 20


def plan_units(reader: Any, paths: list[str]) -> list:
    """The reader's units of ``paths``, cut into about ``READ_TASKS`` per source where its format allows (a
    reader whose ``units`` takes no ``ranges``, e.g. a user's own, keeps its own units), each input with a name
    for its documents' ids that no other input of the source has (``curate.sources.idnames``)."""
    if "ranges" in inspect.signature(reader.units).parameters:
        return unique_id_names(reader.units(paths, ranges=READ_TASKS))
    return unique_id_names(reader.units(paths))


def read_task_bytes(inputs: list, task_bytes: int) -> int:
    """The text a pack of whole files holds at most: ``task_bytes``, or for a small job its text over
    ``READ_TASKS`` (at least twice ``MIN_RANGE_BYTES``: a file's ranges hold 1 to 2 times that), so a job of a few files still has a task per worker."""
    return min(task_bytes, max(2 * MIN_RANGE_BYTES, -(-sum(unit_text_bytes(u) for _, u in inputs) // READ_TASKS)))


def slice_task_bytes(total: int, task_bytes: int) -> int:
    """The bytes of Parquet row groups a task of a later segment reads at most: ``task_bytes``, or for a small
    job its input (``total`` uncompressed bytes) over ``READ_TASKS``, at least ``MIN_SLICE_TASK_BYTES``: so a
    dedup's passes and apply have tasks for every worker (one 14 MB input was one task, the other worker idle).
    From the input alone, never the workers: parts stay identical."""
    return min(task_bytes, max(MIN_SLICE_TASK_BYTES, -(-total // READ_TASKS)))


def pack_units(inputs: list, task_bytes: int) -> list[list]:
    """The read step's tasks: consecutive whole-file units (``(source, unit)``) packed until about
    ``task_bytes`` of text or ``MAX_UNITS_PER_TASK`` units, so many small files cost a few tasks and parts,
    not one each. A range of a split file, a directory (a code repository) or a remote file is a task of
    its own. The packing depends only on the units and their sizes, never on the workers, so parts stay
    identical."""
    packs: list[list] = []
    size, can_join = 0, False
    for item in inputs:
        unit = item[1]
        whole = unit.start == 0 and unit.end is None and not is_url(unit.path) and os.path.isfile(unit.path)
        n = max(1, unit_text_bytes(unit)) if whole else 0
        if not (can_join and n and size + n <= task_bytes and len(packs[-1]) < MAX_UNITS_PER_TASK):
            packs.append([])
            size = 0
        packs[-1].append(item)
        size += n
        can_join = n > 0
    return packs


def unit_memory(unit) -> int:
    """Rough peak RSS of the task reading ``unit`` (the reader holds a unit's documents at once)."""
    factor = 25 if str(unit.path).endswith(COMPRESSED) else 4
    return WORKER_BASE + factor * unit_bytes(unit) + 6 * BATCH_BYTES


def batch_memory() -> int:
    """Rough peak RSS of a task streaming parts: an input batch, a stage's copy, the writers' buffers."""
    return WORKER_BASE + 6 * BATCH_BYTES


def _segment_line(seg: Segment) -> str:
    names = " -> ".join(s.dir_name for s in seg.steps)
    why = []
    if seg.first.has_fit:
        why.append(f"global pass ({seg.first.dir_name} fit) over its input first")
    if seg.last.has_finalize:
        why.append(f"{seg.last.dir_name} finalize after")
    return names + (f"  [{'; '.join(why)}]" if why else "")


def describe(
    recipe: Recipe, out: Path, task_bytes: int, workers: int | None, segs: list[Segment], inputs: list
) -> list[str]:
    """The plan: units per source, segments with tasks, projected disk and peak memory per task. ``workers``:
    the executor's (None before one is made: the recipe's)."""
    total = sum(unit_bytes(u) for _, u in inputs)
    text_bytes = sum(unit_text_bytes(u) for _, u in inputs)
    lines = [f"plan: recipe {recipe.name!r} into {out} (inputs {_mb(total)}, about {_mb(text_bytes)} uncompressed)"]
    for src in recipe.sources:
        units = [u for s, u in inputs if s == src.name]
        lines.append(
            f"  source {src.name} ({src.format}): {len({u.path for u in units})} files, {len(units)} units, "
            f"{_mb(sum(unit_bytes(u) for u in units))}"
        )
    later_bytes = text_bytes * PARQUET_PER_TEXT_BYTE
    later_task_bytes = slice_task_bytes(int(later_bytes), TASK_BYTES)
    later_tasks = max(1, math.ceil(later_bytes / later_task_bytes))
    for k, seg in enumerate(segs):
        if k == 0:
            packs = pack_units(inputs, read_task_bytes(inputs, task_bytes))
            tasks = f"{len(packs)} tasks (reader units, small files packed)"
            mem = max((unit_memory(u) for _, u in inputs), default=WORKER_BASE)
        else:
            tasks, mem = (
                f"at most about {later_tasks} task(s) (parts packed to {_mb(later_task_bytes)})",
                batch_memory(),
            )
        lines.append(f"  segment {k + 1}: {_segment_line(seg)}")
        for step in seg.steps:  # what a stage wants said about its settings (langid keeping every language)
            note = getattr(step.stage, "plan_note", None)
            if callable(note) and (text := note()):
                lines.append(f"      {step.dir_name}: {text}")
        lines.append(f"      {tasks}; peak memory per task about {_mb(mem)}; writes stages/{seg.last.dir_name}/")
    cpu = sum(
        unit_bytes(u) / 1e6 * CPU_S_PER_MB["compressed" if str(u.path).endswith(COMPRESSED) else "text"]
        for _, u in inputs
    )
    workers = max(1, workers or recipe.workers or 1)
    lines.append(
        f"  time: about {_dur(cpu)} of CPU before dedup, {_dur(cpu / workers)} on {workers} workers ({CPU_S_PER_MB['compressed']} CPU-s per compressed MB, {CPU_S_PER_MB['text']} "
        f"per text MB, as measured on the bundled benchmarks; dedup prints its own estimate)"
    )
    disk = text_bytes * PARQUET_PER_TEXT_BYTE * (len(segs) + 0.25)  # materialised steps + drops
    lines.append(
        f"  projected disk: at most about {_mb(disk)} ({len(segs)} materialised steps of <= "
        f"{PARQUET_PER_TEXT_BYTE}x the text, plus dropped rows; shards extra); estimates, not measurements"
    )
    return lines


def segment_estimate(seg: Segment, in_parts: list[Path], done_bytes: int, done_cpu_s: float, workers: int) -> str:
    """Logged before a segment after the first: its input, memory per task, and a time estimate from the
    CPU seconds per input byte measured on the segments so far."""
    size = sum(p.stat().st_size for p in in_parts if p.exists())
    eta = ""
    if done_bytes and done_cpu_s:
        eta = f"; about {size * done_cpu_s / done_bytes / max(1, workers):,.0f} s at the rate so far"
    return (
        f"[{seg.first.dir_name}] input {len(in_parts)} parts, {_mb(size)}; peak memory per task about "
        f"{_mb(batch_memory())}{eta} (an estimate; fit passes vary by stage)"
    )
