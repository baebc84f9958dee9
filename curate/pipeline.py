"""Python API: ``Pipeline.from_recipe("recipes/gpt3mix.yaml").run(out="runs/gpt3mix")``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from curate.compose import check_shippable, compose
from curate.headstart import start_executor
from curate.io import is_url
from curate.recipe import Recipe, load_recipe, parse_recipe
from curate.runlock import hold_run_lock
from curate.runner import Runner, source_paths
from curate.smalljob import workers_for
from curate.termsafe import print_safe


class Pipeline:
    """A validated recipe, ready to run on an embedded or existing Ray cluster. Either a Recipe, or composed
    in Python: ``Pipeline(sources=[{...}], stages=[{"langid": {"languages": ["en"]}}, MyFilter()])``
    (stage objects and recipe entries mixed; other recipe keys such as ``name``, ``seed``, ``workers`` as
    keywords; see ``curate.compose``)."""

    def __init__(
        self,
        recipe: Recipe | None = None,
        *,
        sources: Sequence[dict] | None = None,
        stages: Sequence[Any] | None = None,
        **recipe_keys: Any,
    ):
        if recipe is None:
            recipe = compose(sources or [], stages or [], **recipe_keys)
        elif sources is not None or stages is not None or recipe_keys:
            raise TypeError("Pipeline: give a Recipe or sources= and stages=, not both")
        self.recipe = recipe

    @classmethod
    def from_recipe(cls, path: str | Path, overrides: list[str] | None = None) -> Pipeline:
        """Load and validate a YAML recipe: a file, or the name of a shipped recipe (``"gpt3mix"``), as
        ``curate run`` takes; ``overrides`` are ``key=value`` strings (like ``--set``)."""
        return cls(load_recipe(path, overrides))

    @classmethod
    def from_dict(cls, raw: dict, base_dir: str | Path = ".") -> Pipeline:
        return cls(parse_recipe(raw, Path(base_dir)))

    def out_dir(self, out: str | Path | None = None) -> Path:
        return Path(out) if out else Path("runs") / self.recipe.name

    def describe(self, out: str | Path | None = None) -> str:
        """The plan of a run (``curate run --dry-run``): units, segments, tasks, projected disk and memory.
        Starts nothing and writes nothing."""
        return "\n".join(Runner(self.recipe, self.out_dir(out), executor=None).describe())

    def run(
        self,
        out: str | Path | None = None,
        workers: int | None = None,
        log: Callable[[str], None] = print_safe,
        adopt_out: bool = False,
    ) -> dict[str, Any]:
        """Run the recipe into ``out`` (default ``runs/<name>``), resuming completed work; return the summary.
        Raises ``curate.runlock.RunLocked`` when another live run holds ``out``, ``NotCurateOut`` when ``out``
        holds files curate did not write (``adopt_out=True`` lets curate use it)."""
        out_dir = self.out_dir(out)
        for i, s in enumerate(self.recipe.sources):  # a missing local input is said before Ray starts
            source_paths([p for p in s.paths if not is_url(p)], f"sources[{i}] ({s.name}).paths")
        with hold_run_lock(out_dir, adopt=adopt_out):  # before Ray starts: a refused run costs nothing
            n, why = workers_for(self.recipe, self.recipe.workers if workers is None else workers)
            if why:
                log(why)
            if n != 0 or os.environ.get("RAY_ADDRESS"):  # tasks run in Ray workers (see start_executor)
                check_shippable(self.recipe)
            executor = start_executor(n, log)  # an embedded Ray starts while the runner plans
            with ThreadPoolExecutor(1, thread_name_prefix="curate-report") as pool:
                try:
                    summary = Runner(self.recipe, out_dir, executor, log=log).run()
                    report = pool.submit(_write_report, out_dir)  # while Ray shuts down: it waits on processes
                finally:
                    executor.shutdown()
                log(f"report: {report.result()}")
        return summary


def _write_report(out_dir: Path) -> Path:
    from curate.report import write_report

    return write_report(out_dir)
