"""The generic runner: turns readers and stages into parallel tasks over Parquet parts.

It knows no stage. It plans the recipe as *segments*: runs of consecutive steps executed together, one
task per part (``curate.segment``); a new segment starts at every stage with a ``fit`` (a global pass
needs its input on disk) and after every stage with a ``finalize`` (which reads its own output), or at
every step with ``keep_intermediate: true``. For each segment it (1) computes keys from the previous
step's key, the step's config and the code that implements it, (2) reuses outputs whose keys match
(resume; completed parts are skipped even inside a half-finished segment, after checking that each
file still has the rows and checksum recorded when it was written), (3) otherwise runs ``fit`` once,
the tasks, and ``finalize``, and (4) writes the accounting of every step to ``summary.json``.

Layout of ``runs/<r>/``: ``stages/NN_x/``, ``dropped/NN_x/`` and ``errors/NN_x/`` hold only
``part-*.parquet`` data files (readable as one dataset by pyarrow, polars, DuckDB, HF datasets); the
bookkeeping (per-part stats, ``_SUCCESS.json``, fitted state, a stage's ``work/`` dir) is under
``_state/NN_x/``. ``stages/NN_x/`` exists only for steps whose kept rows are materialised.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.codekeys import PROJECT_ROOT, code_version
from curate.config import RecipeError, build_config
from curate.inputkeys import digest_paths
from curate.io import expand_paths, glob_root, is_url, read_state, write_json_atomic
from curate.partio import TASK_BYTES, check_parts, pack_slices, row_groups
from curate.plan import Segment, Step, key_of
from curate.progress import Progress, interval
from curate.registry import reader_class, stage_class
from curate.runlock import hold_run_lock, is_output_name
from curate.runplan import (
    describe,
    pack_units,
    plan_units,
    read_task_bytes,
    segment_estimate,
    slice_task_bytes,
)
from curate.segment import SegmentSpec, job_bytes, part_name, segment_task
from curate.sources.safe import inside_root, printable, root_of
from curate.stage import FitContext
from curate.steps import step_name
from curate.tally import AccountingError, Tally
from curate.termsafe import print_safe

if TYPE_CHECKING:
    from curate.executor import Executor
    from curate.recipe import Recipe

DATA_ROOTS = ("stages", "dropped", "errors")
STATE_ROOT = "_state"
STEP_DIR = re.compile(r"^\d{2,}_\w+$")  # a step's directory name under the data and state roots
VERIFY_CHUNK = 64  # part files checked per verification task
VERIFY_BLOCK = 4096  # parts whose check records the driver holds at once
DIGEST_CHUNK = 64  # input files hashed per task
DIGEST_IN_DRIVER = 64 << 20  # local input files of at most this many bytes in all are hashed by the driver
INPUTS_CACHE = "inputs.json"  # under the read step's state: each input file's stat signature and SHA-256
LOG_CHANGED = 20  # changed inputs named one by one in the log; the rest are counted

__all__ = ["AccountingError", "Runner", "code_version"]


def _driver_cpu(since: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """CPU seconds of this process and of the child processes it has reaped (a fit's helper, such as quality's
    fastText training in a spawned process; Ray's own processes are reaped only at shutdown), minus ``since``."""
    t = os.times()
    return time.process_time() - since[0], t.children_user + t.children_system - since[1]


def _check_input_files(config: Any, where: str) -> None:
    """A file a stage reads (a field declared ``metadata=PATH``: a model) must exist when the run starts, not
    fail the stage's every batch, or its fit after hours of earlier steps."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.metadata.get("path") and isinstance(value, str) and not is_url(value) and not Path(value).is_file():
            raise RecipeError(f"{where}.{f.name}: no such file: {value!r}")


def _few_local_bytes(paths: list[str], limit: int) -> bool:
    """Whether ``paths`` are all local files of at most ``limit`` bytes in all (stops at the first that is not)."""
    total = 0
    for p in paths:
        if not os.path.isfile(p):
            return False
        total += os.path.getsize(p)
        if total > limit:
            return False
    return True


def _is_output(path: Path, out: Path) -> bool:
    """Whether ``path`` (inside ``out``) is one of the files or directories a run writes there."""
    return is_output_name(path.relative_to(out).parts[0])


def source_paths(patterns: list[str], where: str) -> list[str]:
    """A source's input files (``curate.io.expand_paths``); none matching is a RecipeError naming ``where``."""
    try:
        return expand_paths(patterns, where)
    except FileNotFoundError as e:
        raise RecipeError(f"{e}{_sample_hint(patterns)}") from None


def _sample_hint(paths: list[str]) -> str:
    """What to do when a path into the sample corpus's folder matches nothing: the sample is not built yet."""
    from curate.io import sample_dir

    if os.environ.get("CURATE_DATA") or not any(Path(p).is_relative_to(sample_dir()) for p in paths):
        return ""
    return (
        f"; the sample corpus is not built: run `curate sample` (in a checkout: `make sample`) to build it in "
        f"{sample_dir()}, or set CURATE_DATA to a folder of your own laid out like it"
    )


class NoDocuments(ValueError):
    """A stage of the recipe received no document; the message names it."""


class Runner:
    """Runs a recipe into ``out_dir`` with the given executor (see ``curate.executor``)."""

    def __init__(
        self,
        recipe: Recipe,
        out_dir: Path,
        executor: Executor | None,
        log: Callable[[str], None] = print_safe,
        task_bytes: int = TASK_BYTES,
        code_root: Path = PROJECT_ROOT,
    ):
        self.recipe = recipe
        self.out = Path(out_dir).absolute()  # tasks may run elsewhere (a cluster's workers): never relative
        self.ex = executor
        self.log = log
        self.task_bytes = task_bytes  # fixed, never derived from the worker count: outputs stay identical
        self.code_root = code_root  # where the code that resume keys hash is read (curate.codekeys)
        self._inputs: list[tuple[str, Any]] = []  # (source name, reader unit), planned once per run
        self._unit_digest: dict[str, str] = {}  # unit path -> digest of its content (curate.inputkeys)
        self._part_sha: dict[str, str] = {}  # a materialised part's path -> its SHA-256 as recorded
        self._seg_clock = (0.0, 0.0)  # the running segment's start and the seconds earlier runs spent on it

    # ------------------------------------------------------------ layout

    def state_dir(self, step: Step) -> Path:
        return self.out / STATE_ROOT / step.dir_name

    def _stats_file(self, seg: Segment, i: int) -> Path:
        return self.state_dir(seg.last) / "parts" / f"{part_name(i)[:-8]}.json"

    def _kept_part(self, step: Step, i: int) -> Path:
        return self.out / "stages" / step.dir_name / part_name(i)

    def _clear(self, step: Step) -> None:
        for root in DATA_ROOTS + (STATE_ROOT,):
            shutil.rmtree(self.out / root / step.dir_name, ignore_errors=True)

    # ------------------------------------------------------------ planning

    def plan(self) -> list[Step]:
        r = self.recipe
        readers, source_cfg = {}, []
        for i, s in enumerate(r.sources):
            cls = reader_class(s.format, f"sources[{i}].format")
            readers[s.name] = cls(s.name, s.kind, build_config(cls.Config, s.options, f"sources[{i}].options"))
            source_cfg.append([s.name, s.kind, s.format, s.paths, s.options, code_version(cls, self.code_root)])
        steps = [Step(0, "read", "00_read", key_of("read", source_cfg), readers=readers)]
        for i, spec in enumerate(r.stages, start=1):
            if spec.instance is not None:  # a stage object of a Python-composed pipeline (curate.compose)
                stage, cls = spec.instance, type(spec.instance)
            else:
                cls = stage_class(spec.stage, f"stages[{i - 1}]")
                stage = cls.from_dict(spec.config, f"stages[{i - 1}].{spec.stage}")
            _check_input_files(stage.config, f"stages[{i - 1}].{spec.stage}")
            name = step_name(stage) if ":" in spec.stage else spec.stage
            user_code = [stage.code_digest()] if stage.code_digest() else []  # a given function's code
            key = key_of(
                steps[-1].key,
                spec.stage,
                stage.config_dict(),
                spec.only,
                r.seed,
                code_version(cls, self.code_root),
                *user_code,
            )
            steps.append(Step(i, name, f"{i:02d}_{name}", key, only=spec.only, stage=stage))
        return steps

    def segments(self, steps: list[Step]) -> list[Segment]:
        """Fuse per-document steps; cut before a fit, after a finalize, or everywhere with keep_intermediate."""
        keep_all = bool(self.recipe.raw.get("keep_intermediate", False))
        segs: list[Segment] = []
        for step in steps:
            if not segs or keep_all or step.has_fit or segs[-1].last.has_finalize:
                segs.append(Segment([step]))
            else:
                segs[-1].steps.append(step)
        return segs

    # ------------------------------------------------------------ running

    def _workers(self) -> int | None:
        return self.ex.workers if self.ex is not None else None

    def describe(self) -> list[str]:
        """The plan of this run (see ``curate.runplan``), without running anything."""
        steps = self.plan()
        return describe(
            self.recipe, self.out, self.task_bytes, self._workers(), self.segments(steps), self._read_inputs(steps[0])
        )

    def run(self) -> dict:
        """Run every segment (resuming what is complete) and write ``summary.json``; return the summary."""
        with hold_run_lock(self.out):
            return self._run()

    def _run(self) -> dict:
        t0 = time.time()
        steps = self.plan()
        segs = self.segments(steps)
        self._inputs = self._read_inputs(steps[0])
        for line in describe(self.recipe, self.out, self.task_bytes, self._workers(), segs, self._inputs):
            self.log(line)
        self._remove_stale(steps)
        cache = self._digest_inputs(steps[0])
        write_json_atomic(
            {
                "recipe": self.recipe.raw,
                "name": self.recipe.name,
                "digest": self.recipe.digest(),
                "steps": [{"dir": s.dir_name, "key": s.key} for s in steps],
                "segments": [[s.dir_name for s in g.steps] for g in segs],
            },
            self.out / "recipe.json",
        )
        summary: dict[str, Any] = {
            "recipe": self.recipe.name,
            "recipe_digest": self.recipe.digest(),
            "seed": self.recipe.seed,
            "workers": self._workers(),
            "stages": [],
        }
        parts: list[Path] = []
        done_bytes, done_cpu = 0, 0.0
        for seg in segs:
            if summary["stages"] and not summary["stages"][-1]["kept"]:  # before the segment's fit runs on nothing
                self._no_documents(summary, seg.first)
            if parts:
                self.log(segment_estimate(seg, parts, done_bytes, done_cpu, self._workers() or 1))
                done_bytes += sum(p.stat().st_size for p in parts if p.exists())
            infos, parts = self._run_segment(seg, parts)
            if seg.first.index == 0:  # after the read step's outputs are settled (a new key clears its state)
                write_json_atomic(cache, self.state_dir(seg.first) / INPUTS_CACHE)
            done_cpu += sum(i["cpu_s"] + i.get("fit_cpu_s", 0) + i.get("finalize_cpu_s", 0) for i in infos)
            for info in infos:
                summary["stages"].append(info)
                self.log(
                    f"[{info['dir']}] in={info['in']} kept={info['kept']} dropped={info['dropped_total']} "
                    f"errors={info['errors_total']} ({info.get('seconds', 0)}s"
                    f"{', reused from an earlier run' if info.get('reused') else ''})"
                )
            for step, info in zip(seg.steps, infos):  # a fused step the documents never reached
                if step.index and not info["in"]:
                    self._no_documents(summary, step)
        summary["reconciles"] = all(s["reconciles"] for s in summary["stages"])
        summary["seconds"] = round(time.time() - t0, 2)  # this invocation
        # what the stages took when they ran, over every run that worked on them (a resumed run reuses them)
        summary["stage_seconds"] = round(sum(i.get("seconds", 0) for i in summary["stages"]), 2)
        write_json_atomic(summary, self.out / "summary.json")
        return summary

    def _no_documents(self, summary: dict, step: Step) -> None:
        """Fail the run: ``step`` receives no document (whatever its settings: a stage fitted or applied to
        nothing would publish an empty result as if it were one). The counts so far go to summary.json."""
        summary["failed"] = msg = (
            f"no document reached {step.name} ({step.dir_name}): every document was dropped "
            f"or errored before it; see the counts logged above, summary.json, and "
            f"{self.out}/dropped/ and errors/"
        )
        summary["reconciles"] = all(s["reconciles"] for s in summary["stages"])
        write_json_atomic(summary, self.out / "summary.json")
        raise NoDocuments(msg)

    def _remove_stale(self, steps: list[Step]) -> None:
        keep = {s.dir_name for s in steps}
        for root in DATA_ROOTS + (STATE_ROOT,):
            d = self.out / root
            if d.is_dir():
                for child in d.iterdir():  # only step directories: nothing else there is the runner's
                    if child.name not in keep and child.is_dir() and STEP_DIR.match(child.name):
                        self.log(f"removing outputs of a step no longer in the recipe: {child}")
                        shutil.rmtree(child, ignore_errors=True)

    def _digest_inputs(self, read: Step) -> dict[str, dict]:
        """Digest every unit's content (``curate.inputkeys``: hashed in tasks, only the files whose stat changed
        since the cached run), log which inputs changed, were added or were removed since then, and return the
        new cache."""
        old = read_state(self.state_dir(read) / INPUTS_CACHE) or {}
        units = list({str(u.path): u.path for _, u in self._inputs}.values())  # an InputPath keeps its root
        paths = [str(p) for p in units]
        items = [(p, (old.get(str(p)) or {}).get("files") or {}) for p in units]
        chunks = [items[k : k + DIGEST_CHUNK] for k in range(0, len(items), DIGEST_CHUNK)]
        cache: dict[str, dict] = {}
        if _few_local_bytes(paths, DIGEST_IN_DRIVER):
            results = [digest_paths(c) for c in chunks]  # a few local MB: no task's round trip (or wait for Ray)
        else:
            results = self.ex.map(digest_paths, chunks, desc="00_read inputs") if chunks else []
        for chunk, result in zip(chunks, results):
            for (p, _), (digest, files) in zip(chunk, result):
                cache[str(p)] = {"digest": digest, "files": files}
        self._unit_digest = {p: c["digest"] for p, c in cache.items()}
        if old:
            changes = [
                (p, "changed" if p in old else "new")
                for p in paths
                if (old.get(p) or {}).get("digest") != cache[p]["digest"]
            ]
            changes += [(p, "removed") for p in old if p not in cache]
            for p, what in changes[:LOG_CHANGED]:
                self.log(f"[{read.dir_name}] input {what} since the last run: {printable(p)}")
            if len(changes) > LOG_CHANGED:
                self.log(f"[{read.dir_name}] ... and {len(changes) - LOG_CHANGED} more inputs changed, new or removed")
        return cache

    def _job_inputs(self, seg: Segment, jobs: list[tuple[int, Any]]) -> list[str]:
        """Per task, a key of what it reads: the reader units of its pack and their content digests, or the
        input slices and the recorded SHA-256 of each part they come from. A part is reused only under the
        same key."""
        if seg.first.index == 0:
            return [
                key_of(
                    [
                        (
                            src,
                            str(u.path),
                            root_of(u.path),
                            u.start,
                            u.end,
                            u.first_record,
                            self._unit_digest.get(str(u.path)),
                        )
                        for src, u in pack
                    ]
                )
                for _, pack in jobs
            ]
        return [
            key_of([(os.path.relpath(sl.path, self.out), sl.row_groups, self._part_sha.get(sl.path)) for sl in slices])
            for _, slices in jobs
        ]

    def _renumber_parts(self, seg: Segment, inputs: list[str]) -> None:
        """Parts whose input now has another task number (an input added or removed before it in path order)
        are renamed to that number, not recomputed: a part's files depend on what its task read, never on its
        number. In two passes through ``.tmp`` names, so a crash between them leaves temporary files that the
        next run removes (those parts are then recomputed), never a part under a wrong number."""
        stats_dir = self.state_dir(seg.last) / "parts"
        held: dict[str, int] = {}  # input key -> the part number holding it (one int per part)
        for f in stats_dir.glob("part-*.json"):
            s = read_state(f)
            if f.stem[5:].isdigit() and s and s.get("key") == seg.key and isinstance(s.get("input"), str):
                held[s["input"]] = int(f.stem[5:])
        moves = [(held[k], i) for i, k in enumerate(inputs) if held.get(k, i) != i]
        staged = []
        for j, i in moves:
            s = read_state(self._stats_file(seg, j))
            files = s.get("files") if s else None
            if not isinstance(files, dict) or not all((self.out / rel).is_file() for rel in files):
                continue
            for rel in files:
                src = self.out / rel
                src.replace(src.parent / f".{part_name(i)}.renumber.tmp")
            self._stats_file(seg, j).unlink(missing_ok=True)
            staged.append((j, i, s))
        for j, i, s in staged:
            renamed = {}
            for rel, check in s["files"].items():
                dst = (self.out / rel).parent / part_name(i)
                (dst.parent / f".{part_name(i)}.renumber.tmp").replace(dst)
                renamed[str(dst.relative_to(self.out))] = check
            label = str(s.get("label", "")).replace(part_name(j), part_name(i))
            write_json_atomic(dict(s, files=renamed, label=label), self._stats_file(seg, i))
        if staged:
            self.log(
                f"[{seg.first.dir_name}] {len(staged)} parts renumbered (their input moved in path order), "
                "not recomputed"
            )

    def _remove_extra_parts(self, seg: Segment, n: int) -> None:
        """Parts numbered ``n`` and above (left by a run with more inputs): no task writes them now, and a data
        folder must read as this run's dataset."""
        for step in seg.steps:
            for root in DATA_ROOTS:
                for f in (self.out / root / step.dir_name).glob("part-*.parquet"):
                    if f.stem[5:].isdigit() and int(f.stem[5:]) >= n:
                        f.unlink(missing_ok=True)
        for f in (self.state_dir(seg.last) / "parts").glob("part-*.json"):
            if f.stem[5:].isdigit() and int(f.stem[5:]) >= n:
                f.unlink(missing_ok=True)

    def _completed(self, seg: Segment) -> list[dict] | None:
        """The saved summaries of a finished segment with today's keys, else None."""
        out = []
        for step in seg.steps:
            done = read_state(self.state_dir(step) / "_SUCCESS.json")
            if not done or done.get("key") != step.key or done.get("segment") != seg.key or "summary" not in done:
                return None
            out.append(done["summary"])
        return out

    def _run_segment(self, seg: Segment, in_parts: list[Path]) -> tuple[list[dict], list[Path]]:
        jobs = self._jobs(seg, in_parts)
        inputs = self._job_inputs(seg, jobs)
        done = self._completed(seg)
        if done is not None:
            n = done[-1]["parts"]
            if n == len(jobs) and not self._invalid_parts(seg, inputs) and not self._unfinalized(seg):
                return [dict(s, reused=True) for s in done], [self._kept_part(seg.last, i) for i in range(n)]
            for step in seg.steps:  # some part or output must be redone: the segment is not finished any more
                (self.state_dir(step) / "_SUCCESS.json").unlink(missing_ok=True)
        for step in seg.steps:  # temporary files of writes a kill interrupted
            for root in DATA_ROOTS:
                for tmp in (self.out / root / step.dir_name).glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)
        marker = self.state_dir(seg.last) / "segment.json"
        if (read_state(marker) or {}).get("key") != seg.key:
            for step in seg.steps:  # outputs of another config, code or fusion: never mixed with the new ones
                self._clear(step)
            write_json_atomic({"key": seg.key, "steps": [s.dir_name for s in seg.steps]}, marker)
        self._renumber_parts(seg, inputs)
        self._remove_extra_parts(seg, len(jobs))
        t_start, cpu0 = time.time(), _driver_cpu()
        spent = read_state(self._spent_file(seg)) or {}
        self._seg_clock = (t_start, float(spent.get("seconds", 0)) if spent.get("key") == seg.key else 0.0)
        state, extra = self._fit(seg.first, in_parts, key_of(inputs)) if seg.first.has_fit else (None, {})
        fit_driver_cpu, fit_helper_cpu = _driver_cpu(cpu0)
        spec = SegmentSpec(self.out, seg.key, [s.shipped() for s in seg.steps], readers=seg.first.readers)
        spec.steps[0].state = state
        totals, resumed = self._map_tasks(seg, spec, jobs, inputs)
        out_parts = [self._kept_part(seg.last, i) for i in range(len(jobs))]
        infos = []
        for k, step in enumerate(seg.steps):
            info = totals[k].summary()
            info.update(
                stage=step.name,
                dir=step.dir_name,
                key=step.key,
                parts=len(jobs),
                materialized=step is seg.last,
                resumed_parts=resumed,
            )
            if k == 0:
                info.update(extra)
                info["fit_cpu_s"] = round(self.ex.task_cpu_s.get(f"{step.dir_name} fit", 0.0), 3)
                info["fit_driver_cpu_s"] = round(fit_driver_cpu, 3)
                info["fit_helper_cpu_s"] = round(fit_helper_cpu, 3)
            if step.index == 0:  # reader accounting: a source whose files yield no document is said so, not silent
                yielded = info.get("yielded") or {n: c.get("kept") for n, c in info["by_source"].items()}
                info["sources_without_documents"] = [s.name for s in self.recipe.sources if not yielded.get(s.name)]
                for name in info["sources_without_documents"]:
                    self.log(
                        f"warning: source {name!r} matched input files but yielded no document (see dropped/, errors/)"
                    )
            if not info["reconciles"]:
                raise AccountingError(f"{step.dir_name}: counts do not reconcile: {info}")
            infos.append(info)
        if seg.last.has_finalize:
            assert seg.last.stage is not None
            cpu0 = _driver_cpu()
            fin = seg.last.stage.finalize(
                self._ctx(seg.last, out_parts, "finalize"), state if seg.last is seg.first else None
            )
            driver_cpu, helper_cpu = _driver_cpu(cpu0)
            infos[-1]["finalize_driver_cpu_s"] = round(driver_cpu, 3)
            infos[-1]["finalize_helper_cpu_s"] = round(helper_cpu, 3)
            infos[-1]["finalize_cpu_s"] = round(self.ex.task_cpu_s.get(f"{seg.last.dir_name} finalize", 0.0), 3)
            if fin:
                infos[-1]["finalize"] = fin
        seconds = round(self._spent(seg), 2)
        cpu = sum(i["cpu_s"] for i in infos) or 1.0
        for step, info in zip(seg.steps, infos):
            info.update(t_start=round(t_start, 3), t_end=round(time.time(), 3))  # for profilers (bench scale)
            # a fused step's share of the segment's wall time, by its CPU share
            info["seconds"] = seconds if len(infos) == 1 else round(seconds * info["cpu_s"] / cpu, 2)
            info["segment_seconds"] = seconds
            write_json_atomic(
                {"key": step.key, "segment": seg.key, "summary": info}, self.state_dir(step) / "_SUCCESS.json"
            )
        self._spent_file(seg).unlink(missing_ok=True)  # the seconds are in the summaries now
        return infos, out_parts

    def _spent_file(self, seg: Segment) -> Path:
        return self.state_dir(seg.last) / "spent.json"

    def _spent(self, seg: Segment, write: bool = False) -> float:
        """Wall seconds the segment has taken: what earlier, interrupted runs spent on it (recorded at each
        task they finished) plus this run's so far; with ``write``, recorded for a run that resumes it."""
        t_start, before = self._seg_clock
        total = before + time.time() - t_start
        if write:
            write_json_atomic({"key": seg.key, "seconds": round(total, 3)}, self._spent_file(seg))
        return total

    def _unfinalized(self, seg: Segment) -> list[str]:
        """What is wrong with the outputs of the segment's ``finalize`` (e.g. a manifest edited by hand, a
        shards directory removed), logged; the parts stay valid, so only ``finalize`` runs again."""
        problems = seg.last.stage.finalized(self.out) if seg.last.has_finalize and seg.last.stage else []
        for p in problems[:5]:
            self.log(f"[{seg.last.dir_name}] redoing finalize: {p}")
        return problems

    def _jobs(self, seg: Segment, in_parts: list[Path]) -> list[tuple[int, Any]]:
        if seg.first.stage is None:  # the read step: small files packed into tasks by bytes
            return list(enumerate(pack_units(self._inputs, read_task_bytes(self._inputs, self.task_bytes))))
        groups = row_groups(in_parts)  # each part's footer read once, for the size and for the packing
        return list(enumerate(pack_slices(groups, slice_task_bytes(sum(g[2] for g in groups), self.task_bytes))))

    def _read_inputs(self, step: Step) -> list[tuple[str, Any]]:
        out = []
        for i, s in enumerate(self.recipe.sources):
            where = f"sources[{i}] ({s.name}).paths"
            paths = source_paths(s.paths, where)
            self._check_out_outside(s.paths, paths, where)
            out.extend((s.name, unit) for unit in plan_units(step.readers[s.name], paths))
        return out

    def _check_out_outside(self, patterns: list[str], paths: list[str], where: str) -> None:
        """Refuse an output directory that the source's inputs reach (a matched path inside it, a directory or a
        recursive glob that holds it): the run would read its own outputs, and a re-run would read more."""
        out = self.out.resolve()
        # a match that leads out of its pattern's root is refused by the reader (input:outside_root), never walked
        reach = [(p, Path(p).resolve()) for p in paths if not is_url(p) and inside_root(p, root_of(p))]
        reach += [(p, Path(glob_root(p)).resolve()) for p in patterns if not is_url(p) and "**" in p]
        for given, p in reach:
            walks = p.is_dir() or "**" in given  # the reader (or the glob) goes through everything below p
            if (walks and out.is_relative_to(p)) or (p.is_relative_to(out) and p != out and _is_output(p, out)):
                raise RecipeError(
                    f"{where}: {given} reaches the output directory {self.out}: the run would read "
                    "its own outputs; choose an --out outside the inputs"
                )

    def _ctx(self, step: Step, parts: list[Path], phase: str) -> FitContext:
        workdir = self.state_dir(step) / "work"
        workdir.mkdir(parents=True, exist_ok=True)
        desc = f"{step.dir_name} {phase}"
        return FitContext(
            parts,
            workdir,
            self.recipe.seed,
            lambda fn, items: self.ex.map(fn, items, desc=desc),
            run_dir=self.out,
            recipe=self.recipe.raw,
            log=self.log,
        )

    def _fit(self, step: Step, in_parts: list[Path], inputs: str) -> tuple[Any, dict]:
        """Run (or reload after a crash) the stage's global pass; a saved state is reused only for the same
        step key and the same input parts (``inputs``: their digest)."""
        key = key_of(step.key, inputs)
        f = self.state_dir(step) / "_state.pkl"
        if f.exists():
            try:
                saved = pickle.loads(f.read_bytes())
            except Exception:  # damaged (by hand, or a crash of the machine): fit again
                saved = None
                self.log(f"recomputing {f}: unreadable")
            if isinstance(saved, dict) and saved.get("key") == key:
                return saved["state"], saved["extra"]
        assert step.stage is not None
        state = step.stage.fit(self._ctx(step, in_parts, "fit"))
        extra = {"fit": state["summary"]} if isinstance(state, dict) and "summary" in state else {}
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps({"key": key, "state": state, "extra": extra}))
        tmp.replace(f)
        return state, extra

    def _invalid_parts(self, seg: Segment, inputs: list[str]) -> list[int]:
        """Parts whose stats are missing, of another key or of another input (``inputs``: per part, the key of
        what its task reads), or whose files no longer match the rows, size and SHA-256 recorded when they were
        written. Checked in parallel tasks, ``VERIFY_BLOCK`` parts at a time, so the driver holds a block's
        check records, never the whole run's."""
        bad: list[int] = []
        n, changed = len(inputs), 0
        for lo in range(0, n, VERIFY_BLOCK):
            files: list[tuple[str, dict]] = []
            owner: dict[str, int] = {}
            for i in range(lo, min(n, lo + VERIFY_BLOCK)):
                s = read_state(self._stats_file(seg, i))
                if (
                    not s
                    or s.get("key") != seg.key
                    or not isinstance(s.get("files"), dict)
                    or not isinstance(s.get("steps"), list)
                    or len(s["steps"]) != len(seg.steps)
                ):
                    bad.append(i)
                    continue
                if s.get("input") != inputs[i]:
                    changed += 1
                    bad.append(i)
                    continue
                for rel, check in s["files"].items():
                    files.append((str(self.out / rel), check))
                    owner[str(self.out / rel)] = i
            chunks = [files[k : k + VERIFY_CHUNK] for k in range(0, len(files), VERIFY_CHUNK)]
            failed = {}
            for result in self.ex.map(check_parts, chunks, desc=f"{seg.last.dir_name} verify") if chunks else []:
                for path, why in result:
                    failed.setdefault(owner[path], (path, why))
            for i, (path, why) in sorted(failed.items()):
                self.log(f"recomputing {path}: {why}")
                self._stats_file(seg, i).unlink(missing_ok=True)
                bad.append(i)
            self._note_parts(files)
        if changed:
            self.log(f"[{seg.first.dir_name}] recomputing {changed} of {n} parts: what they read changed")
        return sorted(bad)

    def _note_parts(self, files: list[tuple[str, dict]]) -> None:
        """Remember the recorded SHA-256 of materialised parts: the next segment's input keys (see _job_inputs)."""
        for path, check in files:
            if Path(path).parent.parent.name == "stages" and isinstance(check, dict):
                self._part_sha[path] = check.get("sha256")

    def _map_tasks(self, seg: Segment, spec: SegmentSpec, jobs: list, inputs: list[str]) -> tuple[list[Tally], int]:
        """Run the tasks whose parts are not valid on disk; return per-step totals over all parts."""
        todo = self._invalid_parts(seg, inputs)
        todo_set = set(todo)
        # biggest first (ties in part order), so no large task starts last and ends the segment late on one worker
        todo.sort(key=lambda i: -job_bytes(jobs[i][1]))
        totals = [Tally() for _ in seg.steps]

        def add(stats: dict, part: int) -> None:
            for total, s in zip(totals, stats["steps"]):
                total.merge(s, part)

        for i in range(len(jobs)):
            if i not in todo_set:
                add(read_state(self._stats_file(seg, i)), i)  # checked by _invalid_parts
        if todo:
            desc = f"{seg.first.dir_name}" + (f"..{seg.last.dir_name}" if len(seg.steps) > 1 else "")
            self.ex.connect()
            self.log(f"[{desc}] {len(todo)} of {len(jobs)} tasks to run on {self._workers() or 1} workers")
            beats = self.state_dir(seg.first) / "progress"  # the tasks' heartbeats (curate.progress)
            shutil.rmtree(beats, ignore_errors=True)
            spec.beats, spec.beat_s = (beats, interval()) if interval() > 0 else (None, 0.0)
            progress = Progress(
                desc,
                len(jobs),
                len(jobs) - len(todo),
                beats=spec.beats,
                total_bytes=sum(job_bytes(jobs[i][1]) for i in todo),
            )
            try:
                for j, s in self.ex.imap(
                    segment_task,
                    (jobs[i] for i in todo),
                    spec,
                    progress=progress,
                    measure=lambda r: {"docs": r["steps"][0]["in"], "nbytes": r["input_bytes"], "beat": r["beat"]},
                ):
                    s["input"] = inputs[todo[j]]
                    write_json_atomic(s, self._stats_file(seg, todo[j]))  # written last: marks the part complete
                    self._note_parts([(str(self.out / rel), c) for rel, c in s["files"].items()])
                    add(s, todo[j])
                    self._spent(seg, write=True)
            finally:
                progress.close()
            shutil.rmtree(beats, ignore_errors=True)
        return totals, len(jobs) - len(todo)
