"""One task of a segment, run inside a Ray worker: stream a part through consecutive stages.

A segment is a run of recipe steps executed together, one task per part: the first may have a ``fit``
(its state is shipped to the task), the others are per-document stages. Batches of a bounded size flow
through every step's ``apply``; each step's dropped and errored rows go to its own ``dropped/NN_x/`` and
``errors/NN_x/`` part, and only the last step's kept rows are written (``stages/NN_x/``). The task
checks ``in == kept + dropped + errored`` for every step and batch and returns per-step counts, the CPU
each step spent, and a check record (rows, size, SHA-256) for every file it wrote. A read step streams
its unit: every batch the reader hands over goes through the other steps and is written before reading
goes on, so a task holds a few batches, never the whole unit; batches are re-cut at points that depend on
the rows only, so the parts are the same bytes whatever the reader's flush size.
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.lean import release_freed_memory
from curate.partio import BATCH_BYTES, BATCH_ROWS, PartWriter, Slice, iter_slices
from curate.plan import Step
from curate.progress import TaskMeter
from curate.runplan import unit_bytes
from curate.schema import DOC_SCHEMA, DROP_SCHEMA, split_by_source, with_reason
from curate.sources._util import Sink, SinkFailed
from curate.sources.base import Unit
from curate.sources.safe import is_local
from curate.stage import StageResult
from curate.tally import AccountingError, Tally


def part_name(i: int) -> str:
    return f"part-{i:05d}.parquet"


@dataclass
class SegmentSpec:
    """Shared by every task of a segment (shipped once to the object store)."""

    out: Path
    key: str
    steps: list[Step]  # without readers (``Step.shipped``); the first with its fitted state
    readers: dict[str, Any] = field(default_factory=dict)
    beats: Path | None = None  # where tasks write their progress heartbeats (None: no heartbeat)
    beat_s: float = 15.0  # the driver's progress interval; tasks write 3 heartbeats per interval


def job_bytes(source_input: Any) -> int:
    """Input bytes of one task: the byte ranges of a read task's pack of reader units (``(source, unit)``; 0
    for a remote one: unknown), or the uncompressed bytes of the row groups of a list of slices."""
    if source_input and isinstance(source_input[0], tuple):
        return sum(unit_bytes(unit) for _, unit in source_input)
    return sum(s.nbytes for s in source_input)


def _meter(spec: SegmentSpec, index: int, source_input: Any) -> TaskMeter:
    """A read task's meter follows each unit's read position (``TaskMeter.begin``); a later step's counts
    the bytes of the batches it has taken."""
    beat = spec.beats / f"{part_name(index)}.json" if spec.beats is not None else None
    return TaskMeter(beat, spec.beat_s, job_bytes(source_input))


def _slice_rows(slices: list[Slice]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(s.path).metadata.row_group(rg).num_rows for s in slices for rg in s.row_groups)


def _stamp(t: pa.Table, stage_name: str) -> pa.Table:
    if t.num_rows == 0:
        return t
    idx = t.schema.get_field_index("stage")
    return t.set_column(idx, DROP_SCHEMA.field("stage"), pa.array([stage_name] * t.num_rows, pa.string()))


def apply_step(step: Step, batch: pa.Table, label: str) -> StageResult:
    """Apply one stage to one batch: rows outside ``only`` pass through; a stage exception errors the batch."""
    assert step.stage is not None
    if step.only:
        target, passthrough = split_by_source(batch, step.only)
    else:
        target, passthrough = batch, batch.slice(0, 0)
    try:
        result = step.stage.apply(target, step.state) if target.num_rows else StageResult(kept=target)
    except Exception as e:  # safety net: a stage bug errors the batch, loudly and counted
        print(f"[{step.name}] {label}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        result = StageResult(
            kept=target.slice(0, 0), errors=with_reason(target, f"error:{type(e).__name__}: {str(e)[:200]}", step.name)
        )
    result.dropped = _stamp(result.dropped, step.name)
    result.errors = _stamp(result.errors, step.name)
    if passthrough.num_rows:
        result.kept = pa.concat_tables([result.kept, passthrough])
    return result


def read_unit(readers: dict[str, Any], source: str, unit: Unit, sink: Sink | None = None) -> StageResult:
    """Read one reader unit, streaming its batches to ``sink`` when the reader can (see ``Reader.read``); a
    reader must not raise for bad data, and if it does, that is one more error row for the unit."""
    reader = readers[source]
    try:
        if sink is not None and "sink" in inspect.signature(reader.read).parameters:
            return reader.read(unit, sink=sink)
        return reader.read(unit)
    except Exception as e:
        return StageResult(
            kept=DOC_SCHEMA.empty_table(),
            errors=pa.table(
                {
                    "id": [""],
                    "source": [source],
                    "kind": [reader.kind],
                    "url": [unit.label()],
                    "text": [None],
                    "meta": [None],
                    "reason": [f"error:{type(e).__name__}: {str(e)[:200]}"],
                    "stage": ["read"],
                },
                schema=DROP_SCHEMA,
            ),
        )


class Rebatch:
    """Re-cuts a stream of tables into batches of ``BATCH_ROWS`` rows, a batch ending early at the row that
    brings its text to ``BATCH_BYTES``: the cut points depend on the rows only, not on how they arrived, so
    a reader's flush size never changes what the stages see or the bytes of a part."""

    def __init__(self) -> None:
        self._buf: list[pa.Table] = []
        self._rows = self._bytes = 0

    def add(self, table: pa.Table) -> Iterator[pa.Table]:
        if table.num_rows == 0:
            return
        sizes = pc.fill_null(pc.binary_length(table.column("text")), 0).to_numpy()
        start = 0
        while start < table.num_rows:
            room = BATCH_ROWS - self._rows
            ends = np.cumsum(sizes[start : start + room], dtype=np.int64) + self._bytes
            hit = int(np.searchsorted(ends, BATCH_BYTES))  # the first row at which the text reaches the limit
            take = hit + 1 if hit < len(ends) else len(ends)
            self._buf.append(table.slice(start, take))
            self._rows, self._bytes = self._rows + take, int(ends[take - 1])
            start += take
            if hit < len(ends) or self._rows >= BATCH_ROWS:
                yield from self.finish()

    def finish(self) -> Iterator[pa.Table]:
        if self._rows:
            held, self._buf, self._rows, self._bytes = [self._buf], [], 0, 0
            yield _joined(held)  # neither this frame nor the slices keep the batch while a consumer runs it


def _joined(held: list[list[pa.Table]]) -> pa.Table:
    """The one list of tables in ``held``, taken out of it and joined into one contiguous table."""
    return pa.concat_tables(held.pop()).combine_chunks()


def _run_each(batches: Iterator[pa.Table], run: Callable[[pa.Table], None]) -> None:
    """``run`` each batch, then give what it freed back to the system before the next is cut."""
    for batch in batches:
        run(batch)
        del batch  # the last reference: its buffers are freed here, not when the next batch arrives
        release_freed_memory()


def segment_task(job: tuple[int, Any], spec: SegmentSpec) -> dict:
    """Run task ``index`` of a segment over its input (a list of ``(source, Unit)`` for the read step, else a
    list of ``Slice``); return per-step tallies and the check records of the files written."""
    index, source_input = job
    name = part_name(index)
    small = BATCH_BYTES // 8  # every step has a dropped and an errors writer: keep their buffers small
    writers = {
        s.dir_name: (
            PartWriter(spec.out / "dropped" / s.dir_name / name, DROP_SCHEMA, small),
            PartWriter(spec.out / "errors" / s.dir_name / name, DROP_SCHEMA, small),
        )
        for s in spec.steps
    }
    last = spec.steps[-1]
    kept_w = PartWriter(spec.out / "stages" / last.dir_name / name, DOC_SCHEMA)
    tallies = [Tally() for _ in spec.steps]
    all_writers = [w for pair in writers.values() for w in pair] + [kept_w]

    def push(batch: pa.Table, first: int) -> None:
        """Run one batch through the steps from ``first`` on and write what each step drops and keeps."""
        for k in range(first, len(spec.steps)):
            step = spec.steps[k]
            t0 = time.process_time()
            result = apply_step(step, batch, f"{name} ({step.dir_name})")
            tallies[k].cpu_s += time.process_time() - t0
            tallies[k].add(f"{step.dir_name} {name}", batch, result)
            writers[step.dir_name][0].write(result.dropped)
            writers[step.dir_name][1].write(result.errors)
            batch = result.kept
        kept_w.write(batch)

    try:
        with _meter(spec, index, source_input) as meter:
            if spec.steps[0].stage is None:
                _read_step(spec, source_input, tallies[0], writers[spec.steps[0].dir_name], push, meter)
            else:
                rows = max(1, _slice_rows(source_input))

                def step_in(batch: pa.Table) -> None:
                    meter.add(batch.num_rows, meter.total_bytes * batch.num_rows // rows)
                    push(batch, 0)

                _run_each(iter_slices(source_input, DOC_SCHEMA), step_in)
        files = {str(w.path.relative_to(spec.out)): w.close() for w in all_writers}
    except BaseException:
        for w in all_writers:
            w.abort()
        raise
    return {
        "key": spec.key,
        "label": f"{spec.steps[0].dir_name}..{last.dir_name} {name}",
        "steps": [t.as_dict() for t in tallies],
        "files": files,
        "input_bytes": meter.total_bytes,
        "beat": f"{name}.json",
    }


def _read_step(
    spec: SegmentSpec,
    pack: list[tuple[str, Unit]],
    tally: Tally,
    writers: tuple[PartWriter, PartWriter],
    push: Callable[[pa.Table, int], None],
    meter: TaskMeter,
) -> None:
    """Stream the task's reader units (one, or several small files packed) in order: each batch a reader
    hands over is counted, its dropped and errored rows written, and its kept rows pushed through the
    following steps before reading goes on. Batches are cut across units, by the rows only."""
    streams = [(Rebatch(), writers[0].write), (Rebatch(), writers[1].write), (Rebatch(), lambda b: push(b, 1))]
    clock = time.process_time()
    label = ""

    def take(result: StageResult) -> None:
        nonlocal clock
        tally.cpu_s += time.process_time() - clock  # the reader's time, not the stages'
        tally.add(label, None, result)
        tally.yielded[source] += result.kept.num_rows
        meter.add(
            result.kept.num_rows + result.dropped.num_rows + result.errors.num_rows, result.kept.column("text").nbytes
        )
        for (cut, out), table in zip(streams, (result.dropped, result.errors, result.kept)):
            _run_each(cut.add(table), out)
        clock = time.process_time()

    for source, unit in pack:
        label = f"read {source} {unit.label()}"
        meter.begin(str(unit.path) if is_local(unit.path) else None, unit.start, unit_bytes(unit))
        try:
            rest = read_unit(spec.readers, source, unit, take)
        except SinkFailed as e:  # writing or a stage failed, not the reading: the task fails with that error
            raise e.error from None
        take(rest)
    for cut, out in streams:
        _run_each(cut.finish(), out)


__all__ = ["AccountingError", "SegmentSpec", "Slice", "segment_task", "part_name"]
