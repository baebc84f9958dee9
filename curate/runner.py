"""The generic runner: turns readers and stages into parallel tasks over Parquet parts.

It knows no stage. For each step it (1) computes a key from the previous step's key, the step's
config and the code that implements it, (2) reuses the step's outputs when the key matches (resume;
completed parts are skipped even inside a half-finished step), (3) otherwise runs ``fit`` once,
``apply`` per part as tasks, and ``finalize``, (4) writes every output atomically and checks
``in == kept + dropped + errored`` for every part, and (5) writes the accounting to ``summary.json``.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import pickle
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq

from curate.io import expand_paths, read_json, write_json_atomic, write_parquet_atomic
from curate.recipe import Recipe, RecipeError, SourceSpec, StageSpec, build_config
from curate.registry import reader_class, stage_class
from curate.schema import DOC_SCHEMA, DROP_SCHEMA, split_by_source, with_reason
from curate.sources.base import Unit
from curate.stage import FitContext, Stage, StageResult

ENGINE_FILES = ("schema.py", "stage.py", "runner.py", "sources/base.py")


class AccountingError(RuntimeError):
    """A stage returned a different number of rows than it was given: a bug, never silently accepted."""


def _sha(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()[:20]


def code_version(cls: type) -> str:
    """Hash of the engine's contract files and every module of the package that implements ``cls``
    (e.g. all of ``curate/extract/`` for the extract stage), so a code change there is never mixed
    with outputs of the old code."""
    here = Path(__file__).parent
    src = Path(inspect.getsourcefile(cls) or "")
    pkg = src.parent if src.parent != here else None  # a module directly in curate/: only itself
    files = [here / f for f in ENGINE_FILES] + (sorted(pkg.rglob("*.py")) if pkg else [src])
    h = hashlib.sha256()
    for f in files:
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


@dataclass
class Step:
    """One unit of work for the runner: the reader step (index 0) or a recipe stage."""

    index: int
    name: str
    dir_name: str
    key: str
    only: list[str] | None = None
    stage: Stage | None = None
    readers: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- tasks (run inside Ray workers)

def _split_only(batch: pa.Table, only: list[str] | None) -> tuple[pa.Table, pa.Table]:
    if not only:
        return batch, batch.slice(0, 0)
    return split_by_source(batch, only)


def _stats(in_rows: int, result: StageResult, in_table: pa.Table | None) -> dict:
    by_source: dict[str, Counter] = {}

    def bump(col: list[str], what: str) -> None:
        for s in col:
            by_source.setdefault(s, Counter())[what] += 1

    if in_table is not None:
        bump(in_table.column("source").to_pylist(), "in")
    bump(result.kept.column("source").to_pylist(), "kept")
    bump(result.dropped.column("source").to_pylist(), "dropped")
    bump(result.errors.column("source").to_pylist(), "errors")
    if in_table is None:  # reader: what came in is what came out
        for c in by_source.values():
            c["in"] = c["kept"] + c["dropped"] + c["errors"]
    return {
        "in": in_rows,
        "kept": result.kept.num_rows,
        "dropped": dict(sorted(Counter(result.dropped.column("reason").to_pylist()).items())),
        "errors": dict(sorted(Counter(result.errors.column("reason").to_pylist()).items())),
        "counters": dict(sorted(result.counters.items())),
        "by_source": {s: dict(sorted(c.items())) for s, c in sorted(by_source.items())},
    }


def _write_part(out: dict[str, Path], key: str, label: str, result: StageResult, stats: dict) -> dict:
    n_out = stats["kept"] + sum(stats["dropped"].values()) + sum(stats["errors"].values())
    if n_out != stats["in"]:
        raise AccountingError(f"{label}: {stats['in']} rows in but {stats['kept']} kept + "
                              f"{sum(stats['dropped'].values())} dropped + {sum(stats['errors'].values())} errored")
    write_parquet_atomic(result.kept, out["kept"])
    write_parquet_atomic(result.dropped, out["dropped"])
    write_parquet_atomic(result.errors, out["errors"])
    stats = dict(stats, key=key, label=label)
    write_json_atomic(stats, out["stats"])  # written last: marks the part complete
    return stats


def read_unit_task(job: tuple[str, Unit, dict[str, Path], str], readers: dict[str, Any]) -> dict:
    """Read one unit of one source into a part."""
    source, unit, out, key = job
    reader = readers[source]
    try:
        result = reader.read(unit)
    except Exception as e:  # a reader must not raise for bad data; if it does, count the unit
        result = StageResult(kept=DOC_SCHEMA.empty_table(), errors=pa.table({
            "id": [""], "source": [source], "kind": [reader.kind], "url": [unit.label()], "text": [None],
            "meta": [None], "reason": [f"error:{type(e).__name__}: {str(e)[:200]}"], "stage": ["read"]},
            schema=DROP_SCHEMA))
    stats = _stats(0, result, None)
    stats["in"] = stats["kept"] + sum(stats["dropped"].values()) + sum(stats["errors"].values())
    return _write_part(out, key, f"read {source} {unit.label()}", result, stats)


def apply_task(job: tuple[Path, dict[str, Path], str, str], stage: Stage, state: Any,
               only: list[str] | None) -> dict:
    """Apply one stage to one part."""
    in_path, out, key, stage_name = job
    batch = pq.read_table(in_path).cast(DOC_SCHEMA)
    target, passthrough = _split_only(batch, only)
    try:
        result = stage.apply(target, state) if target.num_rows else StageResult(kept=target)
    except Exception as e:  # safety net: a stage bug errors the batch, loudly and counted
        print(f"[{stage_name}] {in_path.name}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        result = StageResult(kept=target.slice(0, 0),
                             errors=with_reason(target, f"error:{type(e).__name__}: {str(e)[:200]}", stage_name))
    result.dropped = _stamp(result.dropped, stage_name)
    result.errors = _stamp(result.errors, stage_name)
    if passthrough.num_rows:
        result.kept = pa.concat_tables([result.kept, passthrough])
    return _write_part(out, key, f"{stage_name} {in_path.name}", result, _stats(batch.num_rows, result, batch))


def _stamp(t: pa.Table, stage_name: str) -> pa.Table:
    if t.num_rows == 0:
        return t
    idx = t.schema.get_field_index("stage")
    return t.set_column(idx, DROP_SCHEMA.field("stage"), pa.array([stage_name] * t.num_rows, pa.string()))


# ---------------------------------------------------------------- driver

def _merge_stats(parts: list[dict]) -> dict:
    total: dict[str, Any] = {"in": 0, "kept": 0, "dropped": Counter(), "errors": Counter(),
                             "counters": Counter(), "by_source": {}}
    for s in parts:
        total["in"] += s["in"]
        total["kept"] += s["kept"]
        total["dropped"].update(s["dropped"])
        total["errors"].update(s["errors"])
        total["counters"].update(s["counters"])
        for src, c in s["by_source"].items():
            total["by_source"].setdefault(src, Counter()).update(c)
    total["dropped_total"] = sum(total["dropped"].values())
    total["errors_total"] = sum(total["errors"].values())
    total["reconciles"] = total["in"] == total["kept"] + total["dropped_total"] + total["errors_total"]
    for k in ("dropped", "errors", "counters"):
        total[k] = dict(sorted(total[k].items()))
    total["by_source"] = {s: dict(sorted(c.items())) for s, c in sorted(total["by_source"].items())}
    return total


class Runner:
    """Runs a recipe into ``out_dir`` with the given executor (see ``curate.executor``)."""

    def __init__(self, recipe: Recipe, out_dir: Path, executor: Any, log: Callable[[str], None] = print):
        self.recipe = recipe
        self.out = Path(out_dir)
        self.ex = executor
        self.log = log

    def _part_paths(self, step: Step, i: int) -> dict[str, Path]:
        name = f"part-{i:05d}"
        return {"kept": self.out / "stages" / step.dir_name / f"{name}.parquet",
                "dropped": self.out / "dropped" / step.dir_name / f"{name}.parquet",
                "errors": self.out / "errors" / step.dir_name / f"{name}.parquet",
                "stats": self.out / "stages" / step.dir_name / "_stats" / f"{name}.json"}

    def _clear(self, step: Step) -> None:
        for root in ("stages", "dropped", "errors"):
            shutil.rmtree(self.out / root / step.dir_name, ignore_errors=True)

    def _plan(self) -> list[Step]:
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
            key = _sha(steps[-1].key, spec.stage, stage.config_dict(), spec.only, r.seed, code_version(cls))
            steps.append(Step(i, spec.stage, f"{i:02d}_{spec.stage}", key, only=spec.only, stage=stage))
        return steps

    def run(self) -> dict:
        """Run every step (resuming what is complete) and write ``summary.json``; return the summary."""
        t0 = time.time()
        self.out.mkdir(parents=True, exist_ok=True)
        steps = self._plan()
        self._remove_stale(steps)
        write_json_atomic({"recipe": self.recipe.raw, "name": self.recipe.name, "digest": self.recipe.digest(),
                           "steps": [{"dir": s.dir_name, "key": s.key} for s in steps]}, self.out / "recipe.json")
        summary: dict[str, Any] = {"recipe": self.recipe.name, "recipe_digest": self.recipe.digest(),
                                   "seed": self.recipe.seed, "workers": getattr(self.ex, "workers", None),
                                   "stages": []}
        parts: list[Path] = []
        for step in steps:
            ts = time.time()
            info = self._run_step(step, parts)
            parts = info.pop("_parts")
            info["seconds"] = round(time.time() - ts, 2)
            summary["stages"].append(info)
            self.log(f"[{step.dir_name}] in={info['in']} kept={info['kept']} dropped={info['dropped_total']} "
                     f"errors={info['errors_total']} ({info['seconds']}s{', reused' if info.get('reused') else ''})")
        summary["reconciles"] = all(s["reconciles"] for s in summary["stages"])
        summary["seconds"] = round(time.time() - t0, 2)
        write_json_atomic(summary, self.out / "summary.json")
        return summary

    def _remove_stale(self, steps: list[Step]) -> None:
        keep = {s.dir_name for s in steps}
        for root in ("stages", "dropped", "errors"):
            d = self.out / root
            if d.is_dir():
                for child in d.iterdir():
                    if child.name not in keep:
                        self.log(f"removing outputs of a step no longer in the recipe: {child}")
                        shutil.rmtree(child, ignore_errors=True)

    def _run_step(self, step: Step, in_parts: list[Path]) -> dict:
        sdir = self.out / "stages" / step.dir_name
        done_file = sdir / "_SUCCESS.json"
        if done_file.exists():
            done = read_json(done_file)
            if done.get("key") == step.key:
                parts = [self._part_paths(step, i)["kept"] for i in range(done["summary"]["parts"])]
                return dict(done["summary"], reused=True, _parts=parts)
        meta_file = sdir / "_key.json"
        if not (meta_file.exists() and read_json(meta_file).get("key") == step.key):
            self._clear(step)  # outputs of a different config or code: never mixed with the new ones
            write_json_atomic({"key": step.key, "step": step.name}, meta_file)
        if step.index == 0:
            jobs, labels = self._read_jobs(step)
            fn, shared, extra = read_unit_task, (step.readers,), {}
        else:
            assert step.stage is not None
            state, extra = self._fit(step, in_parts)
            jobs = [(p, self._part_paths(step, i), step.key, step.name) for i, p in enumerate(in_parts)]
            labels = [str(p.name) for p in in_parts]
            fn, shared = apply_task, (step.stage, state, step.only)
        stats = self._map_parts(step, fn, jobs, shared, labels)
        out_parts = [self._part_paths(step, i)["kept"] for i in range(len(jobs))]
        summary = _merge_stats(stats)
        summary.update(stage=step.name, dir=step.dir_name, key=step.key, parts=len(jobs), **extra)
        if step.index == 0:  # reader accounting: a source whose files yield no document is said so, not silent
            summary["sources_without_documents"] = [s.name for s in self.recipe.sources
                                                    if not summary["by_source"].get(s.name, {}).get("kept")]
            for name in summary["sources_without_documents"]:
                self.log(f"warning: source {name!r} matched input files but yielded no document (see dropped/, errors/)")
        if step.stage is not None:
            ctx = self._ctx(step, out_parts)
            fin = step.stage.finalize(ctx, self._load_state(step))
            if fin:
                summary["finalize"] = fin
        if not summary["reconciles"]:
            raise AccountingError(f"{step.dir_name}: counts do not reconcile: {summary}")
        write_json_atomic({"key": step.key, "summary": summary}, done_file)
        return dict(summary, _parts=out_parts)

    def _read_jobs(self, step: Step) -> tuple[list, list[str]]:
        jobs, labels = [], []
        for i, s in enumerate(self.recipe.sources):
            try:
                paths = expand_paths(s.paths, f"sources[{i}] ({s.name}).paths")
            except FileNotFoundError as e:
                raise RecipeError(str(e)) from None
            for unit in step.readers[s.name].units(paths):
                jobs.append((s.name, unit, self._part_paths(step, len(jobs)), step.key))
                labels.append(f"{s.name}:{unit.label()}")
        return jobs, labels

    def _ctx(self, step: Step, parts: list[Path]) -> FitContext:
        workdir = self.out / "stages" / step.dir_name / "work"
        workdir.mkdir(parents=True, exist_ok=True)
        return FitContext(parts, workdir, self.recipe.seed, lambda fn, items: self.ex.map(fn, items),
                          run_dir=self.out, recipe=self.recipe.raw, log=self.log)

    def _state_file(self, step: Step) -> Path:
        return self.out / "stages" / step.dir_name / "_state.pkl"

    def _load_state(self, step: Step) -> Any:
        f = self._state_file(step)
        return pickle.loads(f.read_bytes())["state"] if f.exists() else None

    def _fit(self, step: Step, in_parts: list[Path]) -> tuple[Any, dict]:
        """Run (or reload after a crash) the stage's global pass."""
        f = self._state_file(step)
        if f.exists():
            saved = pickle.loads(f.read_bytes())
            if saved.get("key") == step.key:
                return saved["state"], saved["extra"]
        assert step.stage is not None
        state = step.stage.fit(self._ctx(step, in_parts))
        extra = {}
        if isinstance(state, dict) and "summary" in state:
            extra = {"fit": state["summary"]}
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps({"key": step.key, "state": state, "extra": extra}))
        tmp.replace(f)
        return state, extra

    def _map_parts(self, step: Step, fn: Callable, jobs: list, shared: tuple, labels: list[str]) -> list[dict]:
        stats: list[dict | None] = [None] * len(jobs)
        todo = []
        for i, job in enumerate(jobs):
            paths = self._part_paths(step, i)
            if paths["stats"].exists() and paths["kept"].exists():
                s = read_json(paths["stats"])
                if s.get("key") == step.key:
                    stats[i] = s
                    continue
            todo.append(i)
        if todo:
            from tqdm import tqdm

            bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=step.dir_name, unit="part",
                       disable=None, leave=False, file=sys.stderr)
            for j, s in self.ex.imap(fn, [jobs[i] for i in todo], *shared):
                stats[todo[j]] = s
                bar.update(1)
            bar.close()
        return [s for s in stats if s is not None]
