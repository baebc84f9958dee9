"""Counting what a step did: one ``Tally`` per step, in a task and in the driver.

In a task, ``add`` counts each batch a step was given and returned (rows in, kept, dropped and errored by
reason, a stage's counters, rows by source, the first example rows of each reason), and raises
``AccountingError`` when a batch does not add up. ``as_dict`` is the task's record (``_state/.../parts/``).
In the driver, ``merge`` adds the records of a step's tasks one by one (the driver never holds them all) and
``summary`` is the step's entry in ``summary.json``; the examples kept are the same whatever order the tasks
finish in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.stage import StageResult


class AccountingError(RuntimeError):
    """A stage returned a different number of rows than it was given: a bug, never silently accepted."""


@dataclass
class Tally:
    """Running counts of one step: of its batches within a task, or of its tasks' records in the driver."""

    rows_in: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    counters: Counter = field(default_factory=Counter)
    by_source: dict[str, Counter] = field(default_factory=dict)
    # read step: documents each recipe source's reader yielded (rows may carry their own source names)
    yielded: Counter = field(default_factory=Counter)
    cpu_s: float = 0.0
    examples: dict[str, list[list[str]]] = field(default_factory=dict)  # reason -> [[id, source, snippet]]
    # merged from task records: reason -> [(part, row, example)], the first EXAMPLES by part
    ranked: dict[str, list[tuple[int, int, list[str]]]] = field(default_factory=dict)

    def _bump(self, table: pa.Table, what: str) -> None:
        if table.num_rows == 0:
            return
        for row in pc.value_counts(table.column("source")).to_pylist():
            self.by_source.setdefault(row["values"], Counter())[what] += row["counts"]

    def _reasons(self, table: pa.Table, into: Counter) -> None:
        if table.num_rows:
            for row in pc.value_counts(table.column("reason")).to_pylist():
                into[row["values"]] += row["counts"]
            self._examples(table)

    def _examples(self, table: pa.Table) -> None:
        """Keep the first ``EXAMPLES`` rows of each reason (of at most ``EXAMPLE_REASONS`` reasons): what the
        report shows of what each reason removed, collected here so that nothing rescans the drops."""
        want = [
            r
            for r in pc.unique(table.column("reason")).to_pylist()
            if len(self.examples.get(r, ())) < EXAMPLES and (r in self.examples or len(self.examples) < EXAMPLE_REASONS)
        ]
        if not want:
            return
        reasons = table.column("reason")
        for reason in want:  # only the few rows kept are converted to Python, never a batch's texts
            got = self.examples.setdefault(reason, [])
            rows = table.take(pc.indices_nonzero(pc.equal(reasons, reason)).slice(0, EXAMPLES - len(got)))
            for rid, src, url, text in zip(*(rows.column(c).to_pylist() for c in ("id", "source", "url", "text"))):
                got.append([rid or "", src or "", snippet(text, url)])

    def add(self, label: str, in_table: pa.Table | None, result: StageResult) -> None:
        """Count one batch; ``in_table`` None means a reader (what came in is what came out)."""
        n_out = result.kept.num_rows + result.dropped.num_rows + result.errors.num_rows
        n_in = n_out if in_table is None else in_table.num_rows
        if n_out != n_in:
            raise AccountingError(
                f"{label}: {n_in} rows in but {result.kept.num_rows} kept + "
                f"{result.dropped.num_rows} dropped + {result.errors.num_rows} errored"
            )
        self.rows_in += n_in
        self.kept += result.kept.num_rows
        self._reasons(result.dropped, self.dropped)
        self._reasons(result.errors, self.errors)
        self.counters.update(result.counters)
        for t, what in ((result.kept, "kept"), (result.dropped, "dropped"), (result.errors, "errors")):
            self._bump(t, what)
            if in_table is None:
                self._bump(t, "in")
        if in_table is not None:
            self._bump(in_table, "in")

    def as_dict(self) -> dict:
        return {
            "in": self.rows_in,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "errors": dict(sorted(self.errors.items())),
            "counters": dict(sorted(self.counters.items())),
            "by_source": {s: dict(sorted(c.items())) for s, c in sorted(self.by_source.items())},
            "yielded": dict(sorted(self.yielded.items())),
            "cpu_s": round(self.cpu_s, 4),
            "examples": dict(sorted(self.examples.items())),
        }

    def merge(self, record: dict[str, Any], part: int = 0) -> None:
        """Add a task's record (``as_dict``) of part ``part``. Examples: the first EXAMPLES of each reason by
        part, for the EXAMPLE_REASONS first reasons by name: the same whatever order the tasks finish in."""
        for reason, rows in (record.get("examples") or {}).items():
            if reason not in self.ranked and len(self.ranked) >= EXAMPLE_REASONS:
                last = max(self.ranked)
                if reason > last:
                    continue
                del self.ranked[last]
            got = sorted(self.ranked.get(reason, []) + [(part, n, r) for n, r in enumerate(rows)])
            self.ranked[reason] = got[:EXAMPLES]
        self.rows_in += record["in"]
        self.kept += record["kept"]
        self.cpu_s += record.get("cpu_s", 0.0)
        self.dropped.update(record["dropped"])
        self.errors.update(record["errors"])
        self.counters.update(record["counters"])
        self.yielded.update(record.get("yielded", {}))
        for src, c in record["by_source"].items():
            self.by_source.setdefault(src, Counter()).update(c)

    def summary(self) -> dict[str, Any]:
        """The step's counts as ``summary.json`` holds them (from merged task records)."""
        dropped_total, errors_total = sum(self.dropped.values()), sum(self.errors.values())
        t: dict[str, Any] = {
            "in": self.rows_in,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "errors": dict(sorted(self.errors.items())),
            "counters": dict(sorted(self.counters.items())),
            "by_source": {s: dict(sorted(c.items())) for s, c in sorted(self.by_source.items())},
            "cpu_s": round(self.cpu_s, 3),
            "dropped_total": dropped_total,
            "errors_total": errors_total,
            "reconciles": self.rows_in == self.kept + dropped_total + errors_total,
        }
        if self.yielded:  # the read step only
            t["yielded"] = dict(sorted(self.yielded.items()))
        t["examples"] = {r: [e for _, _, e in rows] for r, rows in sorted(self.ranked.items())}
        return t


EXAMPLES = 3  # example rows kept per drop or error reason
EXAMPLE_REASONS = 64  # reasons with examples per step (error reasons can carry a message: unbounded)
SNIPPET_CHARS = 240


def snippet(text: str | None, url: str | None) -> str:
    """The start of a dropped document's text (its URL or file when it has none), whitespace folded."""
    s = " ".join((text or "")[: SNIPPET_CHARS * 2].split())[:SNIPPET_CHARS]
    return s or f"(no text) {url or ''}".strip()
