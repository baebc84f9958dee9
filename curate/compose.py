"""A recipe from Python objects: ``Pipeline(sources=[...], stages=[...])`` without a YAML file.

``sources`` are mappings with the recipe keys of a source (``name``, ``kind``, ``format``, ``paths``,
``options``). ``stages`` mix stage objects (``MyFilter()``, ``FnFilter(lambda doc: ...)``, any
``curate.stage.Stage``) with recipe entries (``"langid"``, ``{"dedup": {"threshold": 0.8}}``,
``{"stage": "mypkg.filters:MyFilter", "config": {...}}``), validated as in a recipe file. A stage object
runs as given; its step is named by its ``name`` (or class name) and keyed by its settings and code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curate.recipe import Recipe, RecipeError, StageSpec, parse_recipe
from curate.stage import Stage
from curate.steps import step_name


def compose(
    sources: Sequence[dict],
    stages: Sequence[Any],
    name: str = "pipeline",
    seed: int = 0,
    workers: int = 2,
    base_dir: str | Path = ".",
    **top: Any,
) -> Recipe:
    """A validated Recipe from sources and a mix of stage objects and recipe entries (see the module doc)."""
    for i, s in enumerate(stages):
        if isinstance(s, type) and issubclass(s, Stage):
            raise RecipeError(f"stages[{i}]: {s.__name__} is a class; give an object, e.g. {s.__name__}()")
    entries = [s for s in stages if not isinstance(s, Stage)]
    raw = dict(top, name=name, seed=seed, workers=workers, sources=[dict(s) for s in sources], stages=entries)
    for i, s in enumerate(stages):  # each entry alone first, so an error names its place among all stages
        if not isinstance(s, Stage):
            try:
                parse_recipe(dict(raw, stages=[s]), Path(base_dir), default_name=name)
            except RecipeError as e:
                raise RecipeError(str(e).replace("stages[0]", f"stages[{i}]", 1)) from None
    recipe = parse_recipe(raw, Path(base_dir), default_name=name)
    parsed = iter(recipe.stages)
    specs, described = [], []
    for i, s in enumerate(stages):
        if isinstance(s, Stage):
            label = step_name(s)
            specs.append(StageSpec(stage=label, config=s.config_dict(), instance=s))
            described.append({label: s.config_dict(), "code": f"{type(s).__module__}:{type(s).__qualname__}"})
        else:
            specs.append(next(parsed))
            described.append(s)
    recipe.stages = specs
    recipe.raw = dict(raw, stages=described)  # what recipe.json and the digest record
    return recipe


def check_shippable(recipe: Recipe) -> None:
    """Refuse, before any work, a stage object that cannot be sent to Ray workers (a lambda closing over a
    lock or an open file...), naming it: such a step runs in-process only (``workers=0``)."""
    from ray import cloudpickle

    from curate.registry import stage_class

    for i, spec in enumerate(recipe.stages):
        if spec.instance is None:
            if ":" in spec.stage:  # a user stage named by import path in a recipe
                _ship_by_value(stage_class(spec.stage, f"stages[{i}]"))
            continue
        _ship_by_value(type(spec.instance))
        try:
            cloudpickle.dumps(spec.instance)
        except Exception as e:  # pickling runs arbitrary user code: any failure is the same refusal
            raise RecipeError(
                f"stages[{i}] ({spec.stage}): cannot be sent to Ray workers ({type(e).__name__}: "
                f"{str(e)[:200]}); define it at module level, or run in-process with workers=0"
            ) from None


def _ship_by_value(cls: type) -> None:
    """Send a user stage's module to the workers by value: they run the code the driver hashed into the resume
    key, even when the module is not importable there or a long-lived worker imported an older version."""
    from ray import cloudpickle

    module = sys.modules.get(cls.__module__)
    if module is not None and not cls.__module__.startswith("curate") and cls.__module__ != "__main__":
        cloudpickle.register_pickle_by_value(module)
