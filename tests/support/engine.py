"""A reader and stages used only by the engine tests, over real corpus text (dedup/docs.jsonl)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curate.schema import doc_id, docs_table, with_reason
from curate.sources.base import Reader, Unit
from curate.stage import FitContext, Stage, StageResult


class LinesReader(Reader):
    """Reads ``{"id","text"}`` JSONL; each unit is a slice of lines (``start``..``end`` line numbers)."""

    format = "test_lines"

    @dataclass
    class Config:
        lines_per_unit: int = 50

    def units(self, paths: list[str]) -> list[Unit]:
        out = []
        for p in paths:
            n = sum(1 for _ in open(p, encoding="utf-8"))
            step = self.config.lines_per_unit
            out += [Unit(p, s, min(n, s + step)) for s in range(0, n, step)]
        return out

    def read(self, unit: Unit) -> StageResult:
        rows = []
        with open(unit.path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if unit.start <= i < (unit.end or 1 << 60):
                    d = json.loads(line)
                    rows.append(
                        {
                            "id": doc_id(self.source, d["id"], d["text"]),
                            "source": self.source,
                            "kind": self.kind,
                            "url": d["id"],
                            "text": d["text"],
                            "meta": {"line": i},
                        }
                    )
        return StageResult(kept=docs_table(rows))


class MinLength(Stage):
    """Drops documents shorter than ``min_chars``; crashes if CURATE_TEST_CRASH_AT names a part's first id."""

    name = "test_min_length"

    @dataclass
    class Config:
        min_chars: int = 1000

    def apply(self, batch: pa.Table, state) -> StageResult:
        crash = os.environ.get("CURATE_TEST_CRASH_FILE")
        if crash and Path(crash).exists() and batch.column("url")[0].as_py() == Path(crash).read_text():
            os._exit(9)  # simulate a killed worker/driver
        mask = pc.greater_equal(pc.utf8_length(batch.column("text")), self.config.min_chars)
        return StageResult(kept=batch.filter(mask), dropped=with_reason(batch.filter(pc.invert(mask)), "length:short"))


class DropLongest(Stage):
    """Global stage: fit finds the ``n`` longest documents across all parts; apply drops them."""

    name = "test_drop_longest"

    @dataclass
    class Config:
        n: int = 3

    def fit(self, ctx: FitContext):
        lens = ctx.map_parts(_lengths)
        allv = sorted((v for part in lens for v in part), reverse=True)[: self.config.n]
        return {"ids": sorted(i for _, i in allv), "summary": {"longest": [n for n, _ in allv]}}

    def apply(self, batch: pa.Table, state) -> StageResult:
        mask = pc.is_in(batch.column("id"), pa.array(state["ids"], pa.string()))
        return StageResult(kept=batch.filter(pc.invert(mask)), dropped=with_reason(batch.filter(mask), "longest"))


def _lengths(part: Path) -> list[tuple[int, str]]:
    import pyarrow.parquet as pq

    t = pq.read_table(part, columns=["id", "text"])
    return list(zip(pc.utf8_length(t.column("text")).to_pylist(), t.column("id").to_pylist()))
