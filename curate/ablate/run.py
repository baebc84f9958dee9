"""The ablation driver: evaluation set, variant builds at one token budget, proxy training, statistics.

Order of work (everything under ``out``, default ``runs/<recipe>-ablate/``):
1. ``eval/``: the held-out evaluation set (``curate.ablate.holdout``), written before any variant is built.
2. ``build/``: one run directory in which the variants are built one after another with the generic runner,
   ``curated`` first (it trains the shared tokenizer unless ``--tokenizer`` names one, and sets the budget
   unless ``--tokens`` does). Variants run in the order that shares the longest stage prefix with the one
   before, so the runner's resume reuses the shared steps (reading, holdout, extraction...). A variant's mix
   budget is corrected until its shards hold the reference token count within ``tolerance``.
3. ``variants/<v>/``: each build's manifest, shards and tokenizer, the derived recipe, ``build.json``; then
   ``train/seed-<s>/`` per seed (the bundled trainer, scoring the evaluation set per source).
4. ``ablation.json``, ``ablation.png``, ``ablation.html`` and the printed table (``curate.ablate.report``).
Steps whose inputs, settings and code are unchanged are skipped on a re-run (``build.json`` / metrics keys).
"""
from __future__ import annotations

import hashlib
import heapq
import json
import os
import resource
import shutil
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

import yaml

from curate.ablate.holdout import extract_eval_unit
from curate.ablate.variants import (build_recipe, order_for_reuse, reference_sources, variant_label,
                                    variant_stages)
from curate.io import expand_paths, read_json, write_json_atomic
from curate.recipe import RecipeError, build_config, load_recipe, parse_recipe
from curate.registry import reader_class

REPO = Path(__file__).resolve().parent.parent.parent
MAX_BUDGET_TRIES = 6


@dataclass
class AblateConfig:
    """The settings of one ablation (the ``curate ablate`` flags)."""

    recipe: str
    variants: list[str] = field(default_factory=lambda: ["raw", "curated"])
    seeds: int = 3
    steps: int = 1000
    config: str = "tiny"
    eval_files: list[str] = field(default_factory=list)
    tokenizer: str | None = None  # a sentencepiece model to use instead of training one on the curated mix
    tokens: int | None = None  # token budget per variant (default: what the curated recipe produces)
    out: str | None = None
    workers: int | None = None
    device: str = "auto"
    threads: int | None = 1  # torch CPU threads per training run (tiny models do not scale past one)
    eval_tokens: int = 16384  # tokens scored per evaluation source
    eval_every: int | None = None
    schedule: str = "cosine"  # the trainer's learning-rate schedule (see trainer.train.lr_factor)
    jobs: int | None = None  # concurrent training runs (default: one on a GPU, one per CPU core otherwise)
    holdout_share: float = 0.02
    chunk_chars: int = 4000
    reference: list[str] | None = None  # source names held out for evaluation (default: see variants.py)
    tolerance: float = 0.005  # allowed relative token-count difference between variants
    overrides: list[str] = field(default_factory=list)  # --set key=value on the base recipe


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:20]


def file_sha(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# the driver's own modules: editing them changes no build (so they do not invalidate reused builds; what
# variants.py derives is in the build key as data)
DRIVER_FILES = {"curate/ablate/run.py", "curate/ablate/report.py", "curate/ablate/stats.py",
                "curate/ablate/variants.py", "curate/cli.py", "curate/report.py"}


def code_fingerprint(*packages: str) -> str:
    """Hash of every ``.py`` file of the named top-level packages except ``DRIVER_FILES`` (a code change
    invalidates skipped work)."""
    h = hashlib.sha256()
    for pkg in packages:
        for f in sorted((REPO / pkg).rglob("*.py")):
            if str(f.relative_to(REPO)) in DRIVER_FILES:
                continue
            h.update(str(f.relative_to(REPO)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


class Clock:
    """Wall and CPU seconds per phase. CPU counts this process, its finished children and its live
    descendants (the Ray workers), so it is the machine time the ablation used, not just the driver's."""

    def __init__(self) -> None:
        self.phases: dict[str, dict[str, float]] = {}
        self._t0, self._c0 = time.time(), self.cpu()

    @staticmethod
    def cpu() -> float:
        import psutil

        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
        for p in psutil.Process().children(recursive=True):
            try:
                t = p.cpu_times()  # with the children it reaped (Ray's workers, reaped by the raylet)
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total

    def lap(self, name: str) -> None:
        t, c = time.time(), self.cpu()
        self.phases[name] = {"wall_s": round(t - self._t0, 1), "cpu_s": round(c - self._c0, 1)}
        self._t0, self._c0 = t, c


# ---------------------------------------------------------------- evaluation set

def build_eval_set(recipe: Any, reference: list[str], holdout: dict[str, Any], out: Path, executor: Any,
                   log: Callable[[str], None]) -> dict[str, Any]:
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
        agg = {k: sum(c[k] for c, o in zip(counts, owner) if o == name)
               for k in ("docs_read", "chunks", "whole_docs", "chars")}
        sources[name] = {"file": dst.name, "sha256": file_sha(dst), **agg}
        log(f"eval set: {name}: {agg['chunks']:,} held-out chunks ({agg['whole_docs']:,} whole documents, "
            f"{agg['chars']:,} characters) of {agg['docs_read']:,} documents")
    shutil.rmtree(out / "parts")
    record = {"rule": {"share": holdout["share"], "chunk_chars": holdout["chunk_chars"], "seed": recipe.seed,
                       "draw": "unit(seed, 'holdout', chunk text) < share (curate.ablate.holdout)"},
              "reference_sources": reference, "sources": sources}
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


# ---------------------------------------------------------------- builds

def manifest_tokens(run_dir: Path) -> int:
    """All tokens (train + val) of a build's shards."""
    return int(sum(read_json(run_dir / "manifest.json")["tokens"].values()))


def next_target(tries: list[dict[str, int]], ref_tokens: int) -> int:
    """The next mix target: a secant step through the last two tries when they give a positive slope,
    else scale the last target by ``ref_tokens / tokens``."""
    t1, n1 = tries[-1]["mix_target_tokens"], tries[-1]["tokens"]
    if len(tries) >= 2:
        t0, n0 = tries[-2]["mix_target_tokens"], tries[-2]["tokens"]
        if t1 != t0 and (n1 - n0) / (t1 - t0) > 0:
            return max(1, round(t1 + (ref_tokens - n1) * (t1 - t0) / (n1 - n0)))
    return max(1, round(t1 * ref_tokens / n1)) if n1 else t1 * 2


def _mix_estimate(summary: dict[str, Any]) -> int | None:
    """The mix stage's planned budget (estimated tokens) from a run summary, if it reports one."""
    for st in summary.get("stages", []):
        if st.get("stage") == "mix":
            fit = st.get("fit") or {}
            if isinstance(fit, dict) and fit.get("target_tokens"):
                return int(fit["target_tokens"])
    return None


class Builder:
    """Builds variant recipes one after another in one run directory with the generic runner."""

    def __init__(self, base: dict[str, Any], base_dir: Path, build_dir: Path, executor: Any,
                 holdout: dict[str, Any], reference: list[str], log: Callable[[str], None]):
        self.base, self.base_dir, self.dir, self.ex = base, base_dir, build_dir, executor
        self.holdout, self.reference, self.log = holdout, reference, log

    def build(self, label: str, stages: list[dict[str, Any]], target: int | None,
              tokenizer: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        from curate.runner import Runner

        raw = build_recipe(self.base, stages, self.holdout, self.reference, target, tokenizer)
        recipe = parse_recipe(raw, self.base_dir, default_name=str(self.base.get("name", "recipe")))
        with open(self.dir.parent / "build.log", "a", encoding="utf-8") as detail:
            def log(line: str) -> None:  # every line to build.log; step lines and warnings also to the console
                print(f"[{label}] {line}", file=detail, flush=True)
                if line.startswith(("[", "WARNING")):
                    self.log(f"[{label}] {line}")

            summary = Runner(recipe, self.dir, self.ex, log=log).run()
        return raw, summary

    def build_at_budget(self, label: str, stages: list[dict[str, Any]], first_target: int, ref_tokens: int,
                        tokenizer: str, tolerance: float) -> dict[str, Any]:
        """Build with the mix target corrected until the shards hold ``ref_tokens`` within ``tolerance``
        (secant steps on tokens(target); proportional when there is no usable slope yet); returns the last
        build's recipe, summary and the tries."""
        target, tries = first_target, []
        for _ in range(MAX_BUDGET_TRIES):
            raw, summary = self.build(label, stages, target, tokenizer)
            tokens = manifest_tokens(self.dir)
            tries.append({"mix_target_tokens": target, "tokens": tokens})
            self.log(f"[{label}] budget: mix target {target:,} -> {tokens:,} tokens (reference {ref_tokens:,}, "
                     f"{tokens / ref_tokens - 1:+.2%})")
            if abs(tokens - ref_tokens) <= tolerance * ref_tokens:
                break
            nxt = next_target(tries, ref_tokens)
            if nxt == target or any(t["mix_target_tokens"] == nxt for t in tries):
                break
            target = nxt
        best = min(tries, key=lambda t: abs(t["tokens"] - ref_tokens))
        if best is not tries[-1]:  # rebuild the closest try (its steps are mostly cheap: mix and tokenize)
            raw, summary = self.build(label, stages, best["mix_target_tokens"], tokenizer)
            tries.append({"mix_target_tokens": best["mix_target_tokens"], "tokens": manifest_tokens(self.dir)})
        return {"recipe": raw, "summary": summary, "tries": tries, "tokens": tries[-1]["tokens"]}

    def export(self, dst: Path, info: dict[str, Any], key: str) -> dict[str, Any]:
        """Copy the build's manifest, shards and tokenizer to ``dst`` (the next variant reuses ``build/``)."""
        shutil.rmtree(dst / "shards", ignore_errors=True)
        shutil.rmtree(dst / "tokenizer", ignore_errors=True)
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.dir / "shards", dst / "shards")
        shutil.copytree(self.dir / "tokenizer", dst / "tokenizer")
        shutil.copy2(self.dir / "summary.json", dst / "summary.json")
        (dst / "recipe.yaml").write_text(yaml.safe_dump(info["recipe"], sort_keys=False), encoding="utf-8")
        shutil.copy2(self.dir / "manifest.json", dst / "manifest.json")
        record = {"key": key, "tokens": info["tokens"], "tries": info["tries"],
                  "manifest_sha256": file_sha(dst / "manifest.json"),
                  "stages": [{"stage": s.get("stage"), "in": s.get("in"), "kept": s.get("kept"),
                              "dropped": s.get("dropped_total"), "errors": s.get("errors_total")}
                             for s in info["summary"].get("stages", [])],
                  "mix_estimate": _mix_estimate(info["summary"])}
        write_json_atomic(record, dst / "build.json")
        return record


def _done(dst: Path, key: str) -> dict[str, Any] | None:
    f = dst / "build.json"
    if f.is_file() and (dst / "manifest.json").is_file():
        rec = read_json(f)
        if rec.get("key") == key and file_sha(dst / "manifest.json") == rec.get("manifest_sha256"):
            return rec
    return None


# ---------------------------------------------------------------- the whole ablation

def run_ablation(cfg: AblateConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the ablation described by ``cfg``; returns the ``ablation.json`` record."""
    from curate.ablate.report import write_outputs
    from curate.executor import make_executor

    recipe = load_recipe(cfg.recipe, cfg.overrides)
    base = recipe.raw
    out = Path(cfg.out or Path("runs") / f"{recipe.name}-ablate")
    labels = [variant_label(v) for v in cfg.variants]
    if len(set(labels)) != len(labels) or len(labels) < 2:
        raise RecipeError(f"--variants: need at least two distinct variants, got {labels}")
    if cfg.seeds < 1 or cfg.steps < 1 or cfg.eval_tokens < 1:
        raise RecipeError("--seeds, --steps and --eval-tokens must be at least 1")
    if not 0 < cfg.holdout_share < 1 or cfg.chunk_chars < 1:
        raise RecipeError(f"--holdout-share must be in (0, 1), got {cfg.holdout_share}")
    stages = {variant_label(v): variant_stages(base, v) for v in cfg.variants}
    stages.setdefault("curated", variant_stages(base, "curated"))
    reference = cfg.reference or reference_sources(base)
    unknown = sorted(set(reference) - {s.name for s in recipe.sources})
    if unknown:
        raise RecipeError(f"--reference: no source named {unknown[0]!r}")
    for f in cfg.eval_files:
        if not Path(f).is_file():
            raise FileNotFoundError(f"--eval: no such file: {f}")
    holdout = {"share": cfg.holdout_share, "chunk_chars": cfg.chunk_chars}
    out.mkdir(parents=True, exist_ok=True)
    clock = Clock()
    executor = make_executor(recipe.workers if cfg.workers is None else cfg.workers)
    try:
        evalrec = build_eval_set(recipe, reference, holdout, out / "eval", executor, log)
        clock.lap("eval_set")
        builds = _build_all(cfg, base, recipe.base_dir, stages, reference, holdout, evalrec, out, executor, log)
        clock.lap("builds")
    finally:
        executor.shutdown()
    eval_files = [out / "eval" / s["file"] for s in evalrec["sources"].values() if s["chunks"]]
    eval_files += [Path(f) for f in cfg.eval_files]
    if not eval_files:
        raise ValueError("ablate: the evaluation set is empty (no held-out chunk and no --eval file); "
                         "raise --holdout-share")
    runs = _train_all(cfg, labels, out, eval_files, log)
    clock.lap("training")
    record = {"recipe": recipe.name, "recipe_path": str(cfg.recipe), "settings": asdict(cfg),
              "eval_set": evalrec,
              "eval_files": {name: {"path": str(p), "sha256": file_sha(p)}
                             for name, p in _eval_names(eval_files).items()},
              "variants": {lbl: builds[lbl] for lbl in labels}, "runs": runs,
              "baseline": "raw" if "raw" in labels else labels[0], "timing": clock.phases}
    return write_outputs(record, out, log)


def _eval_names(files: list[Path]) -> dict[str, Path]:
    from trainer.data import eval_names

    return eval_names(list(files))


def _build_all(cfg: AblateConfig, base: dict[str, Any], base_dir: Path, stages: dict[str, list],
               reference: list[str], holdout: dict[str, Any], evalrec: dict[str, Any], out: Path,
               executor: Any, log: Callable[[str], None]) -> dict[str, Any]:
    """Build every variant (and ``curated``, the reference) at one budget; returns ``build.json`` records."""
    builder = Builder(base, base_dir, out / "build", executor, holdout, reference, log)
    common = {"sources": base.get("sources"), "seed": base.get("seed"), "holdout": holdout, "reference": reference,
              "eval": {k: v["sha256"] for k, v in evalrec["sources"].items()},
              "code": code_fingerprint("curate", "filters", "tokenizer")}
    tok_given = str(Path(cfg.tokenizer).resolve()) if cfg.tokenizer else None
    if tok_given and not Path(tok_given).is_file():
        raise FileNotFoundError(f"--tokenizer: no such file: {cfg.tokenizer}")
    # curated first: it trains the shared tokenizer and (without --tokens) sets the budget
    ref_key = _sha([common, stages["curated"], "reference", tok_given and file_sha(Path(tok_given)), cfg.tokens])
    builds: dict[str, Any] = {}
    # with --tokens the reference build only trains the tokenizer; curated is then built at the budget too
    ref_dir = out / "variants" / "curated" if cfg.tokens is None else out / "reference"
    rec = _done(ref_dir, ref_key)
    if rec is None:
        est = cfg.tokens
        raw, summary = builder.build("curated", stages["curated"], est, tok_given)
        info = {"recipe": raw, "summary": summary, "tries": [{"mix_target_tokens": est or _mix_estimate(summary),
                                                              "tokens": manifest_tokens(out / "build")}]}
        info["tokens"] = info["tries"][0]["tokens"]
        rec = builder.export(ref_dir, info, ref_key)
        if cfg.tokens is None:
            builds["curated"] = rec
    else:
        log("[curated] reusing the reference build (inputs, settings and code unchanged)")
        if cfg.tokens is None:
            builds["curated"] = rec
    tok_src = Path(tok_given) if tok_given else ref_dir / "tokenizer" / "tokenizer.model"
    tok_sha = file_sha(tok_src)
    tokenizer = out / "tokenizer" / f"{tok_sha[:16]}.model"  # content-addressed: the stage key follows it
    if not tokenizer.is_file():
        tokenizer.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tok_src, tokenizer)
    ref_tokens = cfg.tokens or rec["tokens"]
    last = rec["tries"][-1]  # start where the reference build would land on the budget
    first_target = max(1, round((last["mix_target_tokens"] or ref_tokens) * ref_tokens / max(1, last["tokens"])))
    todo = [lbl for lbl in order_for_reuse(list(stages), stages, "curated") if lbl not in builds]
    for lbl in todo:
        key = _sha([common, stages[lbl], tok_sha, ref_tokens, cfg.tolerance])
        dst = out / "variants" / lbl
        done = _done(dst, key)
        if done is not None:
            log(f"[{lbl}] reusing its build (inputs, settings and code unchanged)")
            builds[lbl] = done
            continue
        info = builder.build_at_budget(lbl, stages[lbl], first_target, ref_tokens, str(tokenizer.resolve()),
                                       cfg.tolerance)
        builds[lbl] = builder.export(dst, info, key)
    return builds


def train_one(job: dict[str, Any]) -> dict[str, Any]:
    """One training run (a task: runs in a worker process when several run at once); writes metrics.json."""
    from trainer.train import train

    d = Path(job["dir"])
    d.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(d / "train.log", "w", encoding="utf-8") as lf:
        hist = train(job["manifest"], job["steps"], config=job["config"], device=job["device"], out=d,
                     seed=job["seed"], eval_every=job["eval_every"], cpu_threads=job["threads"],
                     eval_files=job["eval_files"], eval_tokens=job["eval_tokens"], schedule=job["schedule"],
                     log=lambda s: print(s, file=lf, flush=True))
    hist = json.loads(json.dumps(hist, default=str))
    hist.update(ablate_key=job["key"], seconds=round(time.time() - t0, 1))
    write_json_atomic(hist, d / "metrics.json")
    return hist


def _jobs(cfg: AblateConfig, n_runs: int) -> int:
    """Concurrent training runs: one on a GPU; on CPU one per core (each with ``threads`` threads)."""
    if cfg.jobs:
        return cfg.jobs
    import torch

    if cfg.device != "cpu" and torch.cuda.is_available():
        return 1
    return max(1, min(n_runs, (os.cpu_count() or 1) // max(1, cfg.threads or 1)))


def _train_all(cfg: AblateConfig, labels: list[str], out: Path, eval_files: list[Path],
               log: Callable[[str], None]) -> dict[str, Any]:
    """Train every variant with every seed (skipping runs whose inputs and settings are unchanged)."""
    eval_sha = {str(p): file_sha(p) for p in eval_files}
    code = code_fingerprint("trainer")
    hists: dict[tuple[str, int], dict[str, Any]] = {}
    todo = []
    for lbl in labels:
        man = out / "variants" / lbl / "manifest.json"
        for seed in range(cfg.seeds):
            d = out / "variants" / lbl / "train" / f"seed-{seed}"
            settings = [cfg.steps, cfg.config, seed, cfg.eval_tokens, cfg.eval_every, cfg.device, cfg.schedule]
            key = _sha([file_sha(man), eval_sha, settings, code])
            mfile = d / "metrics.json"
            if mfile.is_file() and read_json(mfile).get("ablate_key") == key:
                hists[lbl, seed] = read_json(mfile)
                log(f"[{lbl}] seed {seed}: reusing the finished run")
                continue
            todo.append({"label": lbl, "manifest": str(man), "dir": str(d), "key": key, "steps": cfg.steps,
                         "config": cfg.config, "device": cfg.device, "seed": seed, "eval_every": cfg.eval_every,
                         "threads": cfg.threads, "eval_files": [str(p) for p in eval_files],
                         "eval_tokens": cfg.eval_tokens, "schedule": cfg.schedule})

    def done(job: dict[str, Any], hist: dict[str, Any]) -> None:
        hists[job["label"], job["seed"]] = hist
        finals = ", ".join(f"{n} {v[-1][2]:.4f}" for n, v in hist["eval"].items())
        log(f"[{job['label']}] seed {job['seed']}: {cfg.steps} steps in {hist['seconds']}s on {hist['device']}; "
            f"bits/byte {finals}")

    jobs = _jobs(cfg, len(todo))
    if todo:
        log(f"training {len(todo)} runs, {jobs} at a time")
    if jobs <= 1:
        for job in todo:
            done(job, train_one(job))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(train_one, job): job for job in todo}
            for f in as_completed(futures):
                done(futures[f], f.result())
    runs: dict[str, Any] = {}
    for lbl in labels:
        runs[lbl] = {}
        for seed in range(cfg.seeds):
            h, d = hists[lbl, seed], out / "variants" / lbl / "train" / f"seed-{seed}"
            runs[lbl][str(seed)] = {"eval": h["eval"], "eval_sets": h["eval_sets"], "device": h["device"],
                                    "params": h["params"], "seconds": h.get("seconds"),
                                    "tokens_per_s": h.get("tokens_per_s"), "dir": os.path.relpath(d, out)}
    return runs
