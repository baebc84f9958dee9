"""The stage contract.

A stage is a pure function over a pyarrow batch of documents (``DOC_SCHEMA``) that returns the rows it
keeps and the rows it drops or fails on, each with a reason. Stages that need a view of the whole
dataset first (dedup, classifier training, mixture planning, tokenizer training) implement ``fit``,
which may run its own parallel passes through the ``FitContext``; its return value (the *state*) is
handed to every ``apply`` call. ``finalize`` runs once after all batches (e.g. writing token shards).

The runner (``curate.runner``) knows nothing about any particular stage: it only calls these methods,
writes outputs atomically, resumes, and checks ``in == kept + dropped + errored`` for every batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from curate.config import build_config
from curate.schema import DOC_SCHEMA, DROP_SCHEMA, empty_drops, with_reason


@dataclass
class StageResult:
    """What a stage returns for one batch: kept rows, dropped rows (with ``reason``), errored rows."""

    kept: pa.Table
    dropped: pa.Table = field(default_factory=empty_drops)
    errors: pa.Table = field(default_factory=empty_drops)
    # Free-form counters a stage wants summed into summary.json (e.g. lines removed).
    counters: dict[str, int] = field(default_factory=dict)

    @classmethod
    def split(
        cls,
        batch: pa.Table,
        drops: dict[int, str],
        errors: dict[int, str],
        stage: str,
        counters: dict[str, int] | None = None,
    ) -> StageResult:
        """The result of per-row decisions: rows in ``drops`` / ``errors`` (row index -> reason) are dropped /
        errored, the others kept, in batch order."""
        keep = [i for i in range(batch.num_rows) if i not in drops and i not in errors]

        def rows(idx: list[int]) -> pa.Table:
            return batch.take(pa.array(idx, pa.int64()))

        return cls(
            kept=rows(keep),
            dropped=with_reason(rows(list(drops)), list(drops.values()), stage),
            errors=with_reason(rows(list(errors)), list(errors.values()), stage),
            counters=dict(counters or {}),
        )

    def __post_init__(self) -> None:
        self.kept = self.kept.select([f.name for f in DOC_SCHEMA]).cast(DOC_SCHEMA)
        self.dropped = self.dropped.select([f.name for f in DROP_SCHEMA]).cast(DROP_SCHEMA)
        self.errors = self.errors.select([f.name for f in DROP_SCHEMA]).cast(DROP_SCHEMA)


class FitContext:
    """What ``Stage.fit`` may use: the input parts, a parallel map over them, a work dir and the seed."""

    def __init__(
        self,
        parts: Sequence[Path],
        workdir: Path,
        seed: int,
        map_fn: Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]],
        run_dir: Path | None = None,
        recipe: dict | None = None,
        log: Callable[[str], None] = print,
    ):
        self.parts = list(parts)
        self.workdir = workdir  # this stage's private directory (models, side tables)
        self.run_dir = run_dir or workdir  # runs/<recipe>/, for run-level outputs (tokenizer/, shards/)
        self.seed = seed
        self._map = map_fn
        self.recipe = recipe or {}
        self.log = log

    def map_parts(self, fn: Callable[[Path], Any]) -> list[Any]:
        """Run ``fn(part_path)`` for every input part in parallel (Ray tasks); results in part order.
        ``fn`` should read its part in bounded batches (``curate.batches.read_batches``) and return a small,
        bounded summary: every result is held by the driver."""
        return self._map(fn, self.parts)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """Run ``fn(item)`` for every item in parallel (Ray tasks); results in item order."""
        return self._map(fn, list(items))


class Stage:
    """Base class. Subclasses set ``name`` and a ``Config`` dataclass (recipe keys, with defaults)."""

    name: ClassVar[str] = ""

    @dataclass
    class Config:
        pass

    def __init__(self, config: Any | None = None):
        self.config = config if config is not None else self.Config()

    @classmethod
    def from_dict(cls, d: dict | None, where: str = "") -> Stage:
        return cls(build_config(cls.Config, d or {}, where or f"stages.{cls.name}"))

    def config_dict(self) -> dict:
        return dataclasses.asdict(self.config)

    def code_digest(self) -> str:
        """A digest of code that the stage runs but its class's module does not hold (a function it was given);
        part of the resume key. Empty for a stage whose code is its class."""
        return ""

    def fit(self, ctx: FitContext) -> Any:
        """Optional global pass over all input parts; the result is passed to ``apply``."""
        return None

    def apply(self, batch: pa.Table, state: Any) -> StageResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def finalize(self, ctx: FitContext, state: Any) -> dict | None:
        """Optional pass after all batches (``ctx.parts`` are then this stage's outputs); may return a
        dict merged into the stage's summary."""
        return None

    def finalized(self, run_dir: Path) -> list[str]:
        """Problems with what ``finalize`` wrote into ``run_dir`` (missing or damaged files), checked when a
        finished run is resumed: any problem makes the runner run ``finalize`` again. Cheap checks only."""
        return []
