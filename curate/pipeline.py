"""Python API: ``Pipeline.from_recipe("recipes/gpt3mix.yaml").run(out="runs/gpt3mix")``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from curate.executor import make_executor
from curate.recipe import Recipe, load_recipe, parse_recipe
from curate.runlock import hold_run_lock
from curate.runner import Runner
from curate.smalljob import workers_for


class Pipeline:
    """A validated recipe, ready to run on an embedded or existing Ray cluster."""

    def __init__(self, recipe: Recipe):
        self.recipe = recipe

    @classmethod
    def from_recipe(cls, path: str | Path, overrides: list[str] | None = None) -> "Pipeline":
        """Load and validate a YAML recipe; ``overrides`` are ``key=value`` strings (like ``--set``)."""
        return cls(load_recipe(path, overrides))

    @classmethod
    def from_dict(cls, raw: dict, base_dir: str | Path = ".") -> "Pipeline":
        return cls(parse_recipe(raw, Path(base_dir)))

    def out_dir(self, out: str | Path | None = None) -> Path:
        return Path(out) if out else Path("runs") / self.recipe.name

    def describe(self, out: str | Path | None = None) -> str:
        """The plan of a run (``curate run --dry-run``): units, segments, tasks, projected disk and memory.
        Starts nothing and writes nothing."""
        return "\n".join(Runner(self.recipe, self.out_dir(out), executor=None).describe())

    def run(self, out: str | Path | None = None, workers: int | None = None,
            log: Callable[[str], None] = print) -> dict[str, Any]:
        """Run the recipe into ``out`` (default ``runs/<name>``), resuming completed work; return the summary.
        Raises ``curate.runlock.RunLocked`` when another live run holds ``out``."""
        out_dir = self.out_dir(out)
        with hold_run_lock(out_dir):  # before Ray starts: a refused run costs nothing
            n, why = workers_for(self.recipe, self.recipe.workers if workers is None else workers)
            if why:
                log(why)
            executor = make_executor(n, log)
            try:
                summary = Runner(self.recipe, out_dir, executor, log=log).run()
            finally:
                executor.shutdown()
            from curate.report import write_report

            log(f"report: {write_report(out_dir)}")
        return summary
