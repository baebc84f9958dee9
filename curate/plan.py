"""A recipe planned: its steps (the read step, then one per recipe stage) fused into segments.

A ``Step`` is one step from recipe to task: its name and directory, its resume key (``curate.runner`` derives
it from the previous step's key, the settings and the code, ``curate.codekeys``), which sources it touches,
the built stage (None for the read step, which holds the readers) and, in a task, the fitted state. A
``Segment`` is a run of consecutive steps executed together, one task per part (``curate.segment``). The
recipe's ``StageSpec`` is a step as data (stage name, settings, ``only``); a ``Step`` is that step built, and
tasks receive the same ``Step`` objects (``Step.shipped``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from curate.stage import Stage


def key_of(*parts: Any) -> str:
    """A short stable hash of JSON-able ``parts`` (resume keys, input signatures)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()[:20]


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
    state: Any = None  # the fitted state, set in the copy a task receives

    def shipped(self) -> Step:
        """The copy sent to tasks: without the readers (the segment ships those once)."""
        return dataclasses.replace(self, readers={})

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
        return key_of([s.key for s in self.steps])

    @property
    def first(self) -> Step:
        return self.steps[0]

    @property
    def last(self) -> Step:
        return self.steps[-1]
