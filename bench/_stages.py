"""Run one recipe stage in this process as ``curate filter`` does: its fit pass first (on the rows it sees,
written to Parquet) when it has one, then ``apply``."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.registry import stage_class
from curate.stage import FitContext, Stage, StageResult


def run_stage(name: str, cfg: dict, table: pa.Table, workdir: Path) -> StageResult:
    stage = stage_class(name).from_dict(cfg)
    state = None
    if type(stage).fit is not Stage.fit:
        part = workdir / f"{name}.parquet"
        pq.write_table(table, part)
        state = stage.fit(FitContext([part], workdir, 0, lambda fn, items: [fn(x) for x in items], log=lambda s: None))
    return stage.apply(table, state)
