"""The ablation driver: evaluation set, variant builds at one token budget, proxy training, statistics.

Order of work (everything under ``out``, default ``runs/<recipe>-ablate/``):
1. ``eval/``: the held-out evaluation set (``evalset``, ``holdout``), written before any variant is built.
2. ``build/``: one run directory in which the variants are built one after another with the generic runner,
   ``curated`` first (it trains the shared tokenizer unless ``--tokenizer`` names one, and sets the budget
   unless ``--tokens`` does). Variants run in the order that shares the longest stage prefix with the one
   before, so the runner's resume reuses the shared steps (reading, holdout, extraction...). A variant's mix
   budget is corrected until its shards hold the reference token count within ``tolerance`` (``build``).
3. ``variants/<v>/``: each build's manifest, shards and tokenizer, the derived recipe, ``build.json``; then
   ``train/seed-<s>/`` per seed (the bundled trainer, scoring the evaluation set per source; ``training``).
4. ``ablation.json``, ``ablation.png``, ``ablation.html`` and the printed table (``report``, ``stats``).
Steps whose inputs, settings and code are unchanged are skipped on a re-run (``build.json`` / metrics keys).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from curate.ablate.build import build_all
from curate.ablate.evalset import build_eval_set
from curate.ablate.settings import AblateConfig
from curate.ablate.training import train_all
from curate.ablate.variants import is_recipe_path, reference_sources, variant_label, variant_stages
from curate.partio import file_sha256
from curate.recipe import RecipeError, check_plain_name, load_recipe
from curate.runlock import claim_out
from curate.termsafe import print_safe

ABLATE_OUTPUTS = ("build", "eval", "variants", "ablation.json", "ablation.html", "ablation.png")


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


def run_ablation(cfg: AblateConfig, log: Callable[[str], None] = print_safe) -> dict[str, Any]:
    """Run the ablation described by ``cfg``; returns the ``ablation.json`` record."""
    recipe = load_recipe(cfg.recipe, cfg.overrides)
    base = recipe.raw
    out = Path(cfg.out or Path("runs") / f"{recipe.name}-ablate")
    labels = [variant_label(v) for v in cfg.variants]
    for v, lbl in zip(cfg.variants, labels):
        check_plain_name(lbl, f"--variants {v}")  # variants/<label>/
        if is_recipe_path(v) and (lbl in ("raw", "curated") or lbl.startswith("-")):
            raise RecipeError(f"--variants {v}: rename the file: {lbl!r} is a built-in variant name")
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
    claim_out(out, cfg.adopt_out, ABLATE_OUTPUTS, sign="build")
    with _exclusive(out):
        return _run(cfg, recipe, labels, stages, reference, holdout, out, log)


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold ``out/.lock``: a second ablation into the same directory stops with a clear error."""
    import fcntl

    with open(out / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RecipeError(f"another ablation is running in {out}") from None
        yield


def _run(
    cfg: AblateConfig,
    recipe: Any,
    labels: list[str],
    stages: dict[str, list],
    reference: list[str],
    holdout: dict[str, Any],
    out: Path,
    log: Callable[[str], None],
) -> dict[str, Any]:
    from curate.ablate.report import write_outputs
    from curate.executor import make_executor

    base = recipe.raw
    clock = Clock()
    executor = make_executor(recipe.workers if cfg.workers is None else cfg.workers, log)
    try:
        evalrec = build_eval_set(recipe, reference, holdout, out / "eval", executor, log)
        clock.lap("eval_set")
        builds = build_all(cfg, base, recipe.base_dir, stages, reference, holdout, evalrec, out, executor, log)
        clock.lap("builds")
    finally:
        executor.shutdown()
    eval_files = [out / "eval" / s["file"] for s in evalrec["sources"].values() if s["chunks"]]
    eval_files += [Path(f) for f in cfg.eval_files]
    if not eval_files:
        raise ValueError(
            "ablate: the evaluation set is empty (no held-out chunk and no --eval file); raise --holdout-share"
        )
    runs = train_all(cfg, labels, out, eval_files, log)
    clock.lap("training")
    record = {
        "recipe": recipe.name,
        "recipe_path": str(cfg.recipe),
        "settings": asdict(cfg),
        "eval_set": evalrec,
        "eval_files": {name: {"path": str(p), "sha256": file_sha256(p)} for name, p in _eval_names(eval_files).items()},
        "variants": {lbl: builds[lbl] for lbl in labels},
        "runs": runs,
        "baseline": "raw" if "raw" in labels else labels[0],
        "timing": clock.phases,
    }
    return write_outputs(record, out, log)


def _eval_names(files: list[Path]) -> dict[str, Path]:
    from curate.trainer.data import eval_names

    return eval_names(list(files))
