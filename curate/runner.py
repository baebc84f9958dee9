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

import ast
import dataclasses
import hashlib
import importlib.util
import inspect
import json
import os
import pickle
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from curate.io import expand_paths, glob_root, is_url, read_state, write_json_atomic
from curate.partio import TASK_BYTES, check_parts, plan_slices
from curate.progress import Progress
from curate.recipe import Recipe, RecipeError, build_config
from curate.registry import reader_class, stage_class
from curate.runlock import hold_run_lock
from curate.runplan import describe, segment_estimate
from curate.segment import AccountingError, SegmentSpec, StepSpec, part_name, segment_task
from curate.sources.safe import inside_root, root_of
from curate.stage import FitContext, Stage

ENGINE_FILES = ("schema.py", "stage.py", "runner.py", "segment.py", "partio.py", "sources/base.py")
DATA_ROOTS = ("stages", "dropped", "errors")
STATE_ROOT = "_state"
OUTPUT_NAMES = DATA_ROOTS + (STATE_ROOT, "shards", "tokenizer", "trainer", "manifest.json", "summary.json",
                             "recipe.json", "report.html")  # and dot files, shards-<digest>/
VERIFY_CHUNK = 64  # part files checked per verification task
VERIFY_BLOCK = 4096  # parts whose check records the driver holds at once

__all__ = ["AccountingError", "Runner", "code_version"]


def _sha(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()[:20]


def code_version(cls: type) -> str:
    """Hash of the engine's contract files, every module of the package that implements ``cls`` (e.g. all
    of ``curate/extract/`` for the extract stage) and the project modules those import at module level
    (e.g. ``curate/shards/`` for the tokenize stage), so a code change there is never mixed with outputs
    of the old code."""
    here = Path(__file__).parent
    src = Path(inspect.getsourcefile(cls) or "")
    pkg = src.parent if src.parent != here else None  # a module directly in curate/: only itself
    files = [here / f for f in ENGINE_FILES] + _import_closure(sorted(pkg.rglob("*.py")) if pkg else [src])
    h = hashlib.sha256()
    for f in files:
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _import_closure(files: list[Path]) -> list[Path]:
    """``files`` plus the project's modules they import at module level, transitively, in a fixed order."""
    root = Path(__file__).resolve().parent.parent
    seen: dict[Path, None] = {}
    todo = [f.resolve() for f in files]
    while todo:
        f = todo.pop(0)
        if f in seen or not f.is_file():
            continue
        seen[f] = None
        for name in _module_imports(f):
            try:
                if not _may_be_module(name):
                    continue
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                continue
            origin = Path(spec.origin).resolve() if spec and spec.origin else None
            if origin and origin.is_relative_to(root) and ".venv" not in origin.parts and origin.name != "__init__.py":
                todo.append(origin)
    return sorted(seen)


def _may_be_module(name: str) -> bool:
    """False when ``name``'s parent is a module, not a package (``from a.b import c`` with ``c`` a function):
    finding the spec of ``a.b.c`` would import ``a.b`` and its dependencies only to fail."""
    parent = name.rpartition(".")[0]
    spec = importlib.util.find_spec(parent) if parent else None
    return not parent or (spec is not None and spec.submodule_search_locations is not None)


def _module_imports(path: Path) -> list[str]:
    """Absolute module names a file imports at module level (``from a.b import c`` gives a.b and a.b.c)."""
    names: list[str] = []
    for node in ast.parse(path.read_bytes()).body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names if a.name.startswith("curate")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("curate"):
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


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


def _is_output(path: Path, out: Path) -> bool:
    """Whether ``path`` (inside ``out``) is one of the files or directories a run writes there."""
    top = path.relative_to(out).parts[0]
    return top in OUTPUT_NAMES or top.startswith((".", "shards-"))


def _overrides(stage: Stage | None, method: str) -> bool:
    return stage is not None and getattr(type(stage), method) is not getattr(Stage, method)


@dataclass
class Step:
    """One step of the recipe: the reader step (index 0) or a recipe stage."""

    index: int
    name: str
    dir_name: str
    key: str
    only: list[str] | None = None
    stage: Stage | None = None
    readers: dict[str, Any] = field(default_factory=dict)

    @property
    def has_fit(self) -> bool:
        return _overrides(self.stage, "fit")

    @property
    def has_finalize(self) -> bool:
        return _overrides(self.stage, "finalize")


@dataclass
class Segment:
    """Consecutive steps run as one task per part; only the last step's kept rows are written."""

    steps: list[Step]

    @property
    def key(self) -> str:
        return _sha([s.key for s in self.steps])

    @property
    def first(self) -> Step:
        return self.steps[0]

    @property
    def last(self) -> Step:
        return self.steps[-1]


class StepTotals:
    """Running sum of one step's per-task counts (the driver never holds every task's stats at once)."""

    def __init__(self) -> None:
        self.t: dict[str, Any] = {"in": 0, "kept": 0, "dropped": Counter(), "errors": Counter(),
                                  "counters": Counter(), "by_source": {}, "cpu_s": 0.0}

    def add(self, s: dict) -> None:
        t = self.t
        t["in"] += s["in"]
        t["kept"] += s["kept"]
        t["cpu_s"] += s.get("cpu_s", 0.0)
        for k in ("dropped", "errors", "counters"):
            t[k].update(s[k])
        for src, c in s["by_source"].items():
            t["by_source"].setdefault(src, Counter()).update(c)

    def summary(self) -> dict:
        t = dict(self.t)
        t["dropped_total"] = sum(t["dropped"].values())
        t["errors_total"] = sum(t["errors"].values())
        t["reconciles"] = t["in"] == t["kept"] + t["dropped_total"] + t["errors_total"]
        for k in ("dropped", "errors", "counters"):
            t[k] = dict(sorted(t[k].items()))
        t["by_source"] = {s: dict(sorted(c.items())) for s, c in sorted(t["by_source"].items())}
        t["cpu_s"] = round(t["cpu_s"], 3)
        return t


class Runner:
    """Runs a recipe into ``out_dir`` with the given executor (see ``curate.executor``)."""

    def __init__(self, recipe: Recipe, out_dir: Path, executor: Any, log: Callable[[str], None] = print,
                 task_bytes: int = TASK_BYTES):
        self.recipe = recipe
        self.out = Path(out_dir)
        self.ex = executor
        self.log = log
        self.task_bytes = task_bytes  # fixed, never derived from the worker count: outputs stay identical
        self._inputs: list[tuple[str, Any]] = []  # (source name, reader unit), planned once per run

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
            source_cfg.append([s.name, s.kind, s.format, s.paths, s.options, code_version(cls)])
        steps = [Step(0, "read", "00_read", _sha("read", source_cfg), readers=readers)]
        for i, spec in enumerate(r.stages, start=1):
            cls = stage_class(spec.stage, f"stages[{i - 1}]")
            stage = cls.from_dict(spec.config, f"stages[{i - 1}].{spec.stage}")
            _check_input_files(stage.config, f"stages[{i - 1}].{spec.stage}")
            key = _sha(steps[-1].key, spec.stage, stage.config_dict(), spec.only, r.seed, code_version(cls))
            steps.append(Step(i, spec.stage, f"{i:02d}_{spec.stage}", key, only=spec.only, stage=stage))
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

    def describe(self) -> list[str]:
        """The plan of this run (see ``curate.runplan``), without running anything."""
        steps = self.plan()
        return describe(self, self.segments(steps), self._read_inputs(steps[0]))

    def run(self) -> dict:
        """Run every segment (resuming what is complete) and write ``summary.json``; return the summary."""
        with hold_run_lock(self.out):
            return self._run()

    def _run(self) -> dict:
        t0 = time.time()
        steps = self.plan()
        segs = self.segments(steps)
        self._inputs = self._read_inputs(steps[0])
        for line in describe(self, segs, self._inputs):
            self.log(line)
        self._remove_stale(steps)
        write_json_atomic({"recipe": self.recipe.raw, "name": self.recipe.name, "digest": self.recipe.digest(),
                           "steps": [{"dir": s.dir_name, "key": s.key} for s in steps],
                           "segments": [[s.dir_name for s in g.steps] for g in segs]}, self.out / "recipe.json")
        summary: dict[str, Any] = {"recipe": self.recipe.name, "recipe_digest": self.recipe.digest(),
                                   "seed": self.recipe.seed, "workers": getattr(self.ex, "workers", None),
                                   "stages": []}
        parts: list[Path] = []
        done_bytes, done_cpu = 0, 0.0
        for seg in segs:
            ts = time.time()
            if parts:
                self.log(segment_estimate(seg, parts, done_bytes, done_cpu, getattr(self.ex, "workers", 1)))
                done_bytes += sum(p.stat().st_size for p in parts if p.exists())
            infos, parts = self._run_segment(seg, parts)
            done_cpu += sum(i["cpu_s"] + i.get("fit_cpu_s", 0) + i.get("finalize_cpu_s", 0) for i in infos)
            seconds = round(time.time() - ts, 2)
            cpu = sum(i["cpu_s"] for i in infos) or 1.0
            for info in infos:  # a fused step's share of the segment's wall time, by its CPU share
                info["seconds"] = seconds if len(infos) == 1 else round(seconds * info["cpu_s"] / cpu, 2)
                info["segment_seconds"] = seconds
                summary["stages"].append(info)
                self.log(f"[{info['dir']}] in={info['in']} kept={info['kept']} dropped={info['dropped_total']} "
                         f"errors={info['errors_total']} ({seconds}s{', reused' if info.get('reused') else ''})")
        summary["reconciles"] = all(s["reconciles"] for s in summary["stages"])
        summary["seconds"] = round(time.time() - t0, 2)
        write_json_atomic(summary, self.out / "summary.json")
        return summary

    def _remove_stale(self, steps: list[Step]) -> None:
        keep = {s.dir_name for s in steps}
        for root in DATA_ROOTS + (STATE_ROOT,):
            d = self.out / root
            if d.is_dir():
                for child in d.iterdir():
                    if child.name not in keep:
                        self.log(f"removing outputs of a step no longer in the recipe: {child}")
                        shutil.rmtree(child, ignore_errors=True)

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
        done = self._completed(seg)
        if done is not None:
            n = done[-1]["parts"]
            if not self._invalid_parts(seg, n) and not self._unfinalized(seg):
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
        t_start, cpu0 = time.time(), _driver_cpu()
        state, extra = self._fit(seg.first, in_parts) if seg.first.has_fit else (None, {})
        fit_driver_cpu, fit_helper_cpu = _driver_cpu(cpu0)
        jobs = self._jobs(seg, in_parts)
        spec = SegmentSpec(self.out, seg.key, [StepSpec(s.name, s.dir_name, s.stage, None, s.only)
                                               for s in seg.steps], readers=seg.first.readers)
        spec.steps[0].state = state
        totals, resumed = self._map_tasks(seg, spec, jobs)
        out_parts = [self._kept_part(seg.last, i) for i in range(len(jobs))]
        infos = []
        for k, step in enumerate(seg.steps):
            info = totals[k].summary()
            info.update(stage=step.name, dir=step.dir_name, key=step.key, parts=len(jobs),
                        materialized=step is seg.last, resumed_parts=resumed)
            if k == 0:
                info.update(extra)
                info["fit_cpu_s"] = round(self.ex.task_cpu_s.get(f"{step.dir_name} fit", 0.0), 3)
                info["fit_driver_cpu_s"] = round(fit_driver_cpu, 3)
                info["fit_helper_cpu_s"] = round(fit_helper_cpu, 3)
            if step.index == 0:  # reader accounting: a source whose files yield no document is said so, not silent
                info["sources_without_documents"] = [s.name for s in self.recipe.sources
                                                     if not info["by_source"].get(s.name, {}).get("kept")]
                for name in info["sources_without_documents"]:
                    self.log(f"warning: source {name!r} matched input files but yielded no document "
                             "(see dropped/, errors/)")
            if not info["reconciles"]:
                raise AccountingError(f"{step.dir_name}: counts do not reconcile: {info}")
            infos.append(info)
        if seg.last.has_finalize:
            assert seg.last.stage is not None
            cpu0 = _driver_cpu()
            fin = seg.last.stage.finalize(self._ctx(seg.last, out_parts, "finalize"),
                                          state if seg.last is seg.first else None)
            driver_cpu, helper_cpu = _driver_cpu(cpu0)
            infos[-1]["finalize_driver_cpu_s"] = round(driver_cpu, 3)
            infos[-1]["finalize_helper_cpu_s"] = round(helper_cpu, 3)
            infos[-1]["finalize_cpu_s"] = round(self.ex.task_cpu_s.get(f"{seg.last.dir_name} finalize", 0.0), 3)
            if fin:
                infos[-1]["finalize"] = fin
        for step, info in zip(seg.steps, infos):
            info.update(t_start=round(t_start, 3), t_end=round(time.time(), 3))  # for profilers (bench scale)
            write_json_atomic({"key": step.key, "segment": seg.key, "summary": info},
                              self.state_dir(step) / "_SUCCESS.json")
        return infos, out_parts

    def _unfinalized(self, seg: Segment) -> list[str]:
        """What is wrong with the outputs of the segment's ``finalize`` (e.g. a manifest edited by hand, a
        shards directory removed), logged; the parts stay valid, so only ``finalize`` runs again."""
        problems = seg.last.stage.finalized(self.out) if seg.last.has_finalize and seg.last.stage else []
        for p in problems[:5]:
            self.log(f"[{seg.last.dir_name}] redoing finalize: {p}")
        return problems

    def _jobs(self, seg: Segment, in_parts: list[Path]) -> list[tuple[int, Any]]:
        if seg.first.stage is None:
            return list(enumerate(self._inputs))
        return list(enumerate(plan_slices(in_parts, self.task_bytes)))

    def _read_inputs(self, step: Step) -> list[tuple[str, Any]]:
        out = []
        for i, s in enumerate(self.recipe.sources):
            where = f"sources[{i}] ({s.name}).paths"
            try:
                paths = expand_paths(s.paths, where)
            except FileNotFoundError as e:
                raise RecipeError(str(e)) from None
            self._check_out_outside(s.paths, paths, where)
            out.extend((s.name, unit) for unit in step.readers[s.name].units(paths))
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
                raise RecipeError(f"{where}: {given} reaches the output directory {self.out}: the run would read "
                                  "its own outputs; choose an --out outside the inputs")

    def _ctx(self, step: Step, parts: list[Path], phase: str) -> FitContext:
        workdir = self.state_dir(step) / "work"
        workdir.mkdir(parents=True, exist_ok=True)
        desc = f"{step.dir_name} {phase}"
        return FitContext(parts, workdir, self.recipe.seed, lambda fn, items: self.ex.map(fn, items, desc=desc),
                          run_dir=self.out, recipe=self.recipe.raw, log=self.log)

    def _fit(self, step: Step, in_parts: list[Path]) -> tuple[Any, dict]:
        """Run (or reload after a crash) the stage's global pass."""
        f = self.state_dir(step) / "_state.pkl"
        if f.exists():
            try:
                saved = pickle.loads(f.read_bytes())
            except Exception:  # damaged (by hand, or a crash of the machine): fit again
                saved = None
                self.log(f"recomputing {f}: unreadable")
            if isinstance(saved, dict) and saved.get("key") == step.key:
                return saved["state"], saved["extra"]
        assert step.stage is not None
        state = step.stage.fit(self._ctx(step, in_parts, "fit"))
        extra = {"fit": state["summary"]} if isinstance(state, dict) and "summary" in state else {}
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps({"key": step.key, "state": state, "extra": extra}))
        tmp.replace(f)
        return state, extra

    def _invalid_parts(self, seg: Segment, n: int) -> list[int]:
        """Parts whose stats are missing or of another key, or whose files no longer match the rows, size
        and SHA-256 recorded when they were written. Checked in parallel tasks, ``VERIFY_BLOCK`` parts at
        a time, so the driver holds a block's check records, never the whole run's."""
        bad: list[int] = []
        for lo in range(0, n, VERIFY_BLOCK):
            files: list[tuple[str, dict]] = []
            owner: dict[str, int] = {}
            for i in range(lo, min(n, lo + VERIFY_BLOCK)):
                s = read_state(self._stats_file(seg, i))
                if (not s or s.get("key") != seg.key or not isinstance(s.get("files"), dict)
                        or not isinstance(s.get("steps"), list) or len(s["steps"]) != len(seg.steps)):
                    bad.append(i)
                    continue
                for rel, check in s["files"].items():
                    files.append((str(self.out / rel), check))
                    owner[str(self.out / rel)] = i
            chunks = [files[k:k + VERIFY_CHUNK] for k in range(0, len(files), VERIFY_CHUNK)]
            failed = {}
            for result in self.ex.map(check_parts, chunks, desc=f"{seg.last.dir_name} verify") if chunks else []:
                for path, why in result:
                    failed.setdefault(owner[path], (path, why))
            for i, (path, why) in sorted(failed.items()):
                self.log(f"recomputing {path}: {why}")
                self._stats_file(seg, i).unlink(missing_ok=True)
                bad.append(i)
        return sorted(bad)

    def _map_tasks(self, seg: Segment, spec: SegmentSpec, jobs: list) -> tuple[list[StepTotals], int]:
        """Run the tasks whose parts are not valid on disk; return per-step totals over all parts."""
        todo = self._invalid_parts(seg, len(jobs))
        todo_set = set(todo)
        totals = [StepTotals() for _ in seg.steps]

        def add(stats: dict) -> None:
            for total, s in zip(totals, stats["steps"]):
                total.add(s)

        for i in range(len(jobs)):
            if i not in todo_set:
                add(read_state(self._stats_file(seg, i)))  # checked by _invalid_parts
        if todo:
            desc = f"{seg.first.dir_name}" + (f"..{seg.last.dir_name}" if len(seg.steps) > 1 else "")
            self.log(f"[{desc}] {len(todo)} of {len(jobs)} tasks to run on {getattr(self.ex, 'workers', 1)} workers")
            progress = Progress(desc, len(jobs), len(jobs) - len(todo))
            for j, s in self.ex.imap(segment_task, (jobs[i] for i in todo), spec, progress=progress,
                                     docs=lambda r: r["steps"][0]["in"]):
                write_json_atomic(s, self._stats_file(seg, todo[j]))  # written last: marks the part complete
                add(s)
            progress.close()
        return totals, len(jobs) - len(todo)
