"""Run folder layout, fusion, streaming batches, part merging, and the checks that make resume safe:
part validation against the rows and checksum recorded when it was written, and one run per --out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate import partio
from curate.executor import LocalExecutor
from curate.pipeline import Pipeline
from curate.recipe import parse_recipe
from curate.runlock import RunLocked
from curate.runner import Runner
from tests import REPO
from tests.runner.test_runner import recipe

QUIET = {"log": lambda m: None}


pytestmark = pytest.mark.usefixtures("engine_components")


def three_stage(corpus: Path, **extra) -> dict:
    """read -> min_length -> min_length (fused with the read) -> drop_longest (a fit: a new segment)."""
    r = recipe(corpus)
    r["stages"] = [
        {"test_min_length": {"min_chars": 500}},
        {"test_min_length": {"min_chars": 1000}},
        {"test_drop_longest": {"n": 3}},
    ]
    return dict(r, **extra)


def table(run: Path, root: str, step: str):
    return pq.read_table(run / root / step).sort_by([("id", "ascending")]) if (run / root / step).is_dir() else None


def test_data_dirs_hold_only_parquet_parts_readable_as_datasets(corpus, tmp_path):
    import duckdb
    import polars as pl

    run = tmp_path / "r"
    s = Pipeline.from_dict(three_stage(corpus)).run(out=run, **QUIET)
    for root in ("stages", "dropped", "errors"):
        files = [p for p in (run / root).rglob("*") if p.is_file()]
        assert files and all(p.name.startswith("part-") and p.suffix == ".parquet" for p in files), root
    # fused steps write their drops but not their kept rows; the segment's last step is materialised
    assert sorted(p.name for p in (run / "stages").iterdir()) == ["02_test_min_length", "03_test_drop_longest"]
    kept = {st["dir"]: st["kept"] for st in s["stages"]}
    assert pq.read_table(run / "stages" / "02_test_min_length").num_rows == kept["02_test_min_length"]
    assert (
        pl.scan_parquet(str(run / "stages" / "03_test_drop_longest" / "*.parquet")).collect().height
        == kept["03_test_drop_longest"]
    )
    n = duckdb.sql(f"select count(*) from read_parquet('{run}/dropped/**/*.parquet')").fetchall()[0][0]
    assert n == sum(st["dropped_total"] for st in s["stages"])
    assert (run / "_state" / "03_test_drop_longest" / "_SUCCESS.json").exists()


def test_fused_run_writes_the_same_rows_as_a_run_that_keeps_every_step(corpus, tmp_path):
    fused = Pipeline.from_dict(three_stage(corpus)).run(out=tmp_path / "f", **QUIET)
    kept_all = Pipeline.from_dict(three_stage(corpus, keep_intermediate=True)).run(out=tmp_path / "k", **QUIET)
    strip = (
        "seconds",
        "segment_seconds",
        "cpu_s",
        "parts",
        "materialized",
        "resumed_parts",
        "fit_cpu_s",
        "fit_driver_cpu_s",
        "fit_helper_cpu_s",
        "finalize_cpu_s",
        "finalize_driver_cpu_s",
        "finalize_helper_cpu_s",
        "t_start",
        "t_end",
    )
    assert [{k: v for k, v in st.items() if k not in strip} for st in fused["stages"]] == [
        {k: v for k, v in st.items() if k not in strip} for st in kept_all["stages"]
    ]
    assert (tmp_path / "k" / "stages" / "01_test_min_length").is_dir()
    for st in fused["stages"]:
        for root in ("dropped", "errors"):
            assert table(tmp_path / "f", root, st["dir"]) == table(tmp_path / "k", root, st["dir"]), st["dir"]
    assert table(tmp_path / "f", "stages", "03_test_drop_longest") == table(
        tmp_path / "k", "stages", "03_test_drop_longest"
    )


def test_batches_and_part_sizes_change_neither_rows_nor_their_order(corpus, tmp_path, monkeypatch):
    r = parse_recipe(three_stage(corpus))
    Runner(r, tmp_path / "a", LocalExecutor(), **QUIET).run()
    monkeypatch.setattr(partio, "BATCH_ROWS", 7)  # many small batches through apply, many row groups
    Runner(r, tmp_path / "b", LocalExecutor(), task_bytes=20_000, **QUIET).run()  # and many small tasks
    last = "03_test_drop_longest"
    a, b = pq.read_table(tmp_path / "a" / "stages" / last), pq.read_table(tmp_path / "b" / "stages" / last)
    assert a.column("id").to_pylist() == b.column("id").to_pylist() and a.equals(b)
    parts_b = sorted((tmp_path / "b" / "stages" / last).glob("part-*.parquet"))
    assert len(parts_b) > len(list((tmp_path / "a" / "stages" / last).glob("part-*.parquet")))
    assert max(pq.ParquetFile(p).metadata.num_row_groups for p in parts_b) > 1


@pytest.mark.parametrize("damage", ["truncate", "empty", "flip_byte", "delete"])
@pytest.mark.parametrize("where", ["stages/02_test_min_length", "dropped/01_test_min_length"])
def test_a_damaged_part_is_recomputed_and_named(corpus, tmp_path, damage, where):
    run = tmp_path / "r"
    Pipeline.from_dict(three_stage(corpus)).run(out=run, **QUIET)
    before = {str(p.relative_to(run)): p.read_bytes() for p in run.glob("*/*/part-*.parquet")}
    part = sorted((run / where).glob("part-*.parquet"))[2]
    data = part.read_bytes()
    if damage == "truncate":
        part.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        part.write_bytes(b"")
    elif damage == "flip_byte":
        part.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    else:
        part.unlink()
    logs: list[str] = []
    s = Pipeline.from_dict(three_stage(corpus)).run(out=run, log=logs.append)
    assert any(str(part) in m and "recomputing" in m for m in logs), logs
    assert s["reconciles"] and not s["stages"][0].get("reused")
    after = {str(p.relative_to(run)): p.read_bytes() for p in run.glob("*/*/part-*.parquet")}
    assert after == before


def test_a_second_run_into_the_same_out_is_refused_naming_the_holder(corpus, tmp_path):
    run = tmp_path / "r"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from curate.runlock import hold_run_lock\n"
            f"with hold_run_lock({str(run)!r}):\n print('held', flush=True); time.sleep(60)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=rf"another curate run \(pid {holder.pid}\) is writing to"):
            Pipeline.from_dict(three_stage(corpus)).run(out=run, **QUIET)
        rfile = REPO / "tests" / "recipes" / "e2e.yaml"  # refused before anything is read or started
        p = subprocess.run(
            [sys.executable, "-m", "curate", "run", str(rfile), "--out", str(run)],
            cwd=REPO,
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO), CURATE_CODE_DIR=str(tmp_path)),
        )
        assert p.returncode != 0 and p.stderr.strip().count("\n") == 0 and f"pid {holder.pid}" in p.stderr, p.stderr
        assert not (run / "summary.json").exists()
    finally:
        holder.kill()  # SIGKILL: the kernel drops the lock with the process
        holder.wait()
    s = Pipeline.from_dict(three_stage(corpus)).run(out=run, **QUIET)
    assert s["reconciles"]


def test_progress_is_logged_without_a_terminal_also_inside_fit_passes(corpus, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("CURATE_PROGRESS_S", "0.000001")
    Runner(parse_recipe(three_stage(corpus)), tmp_path / "r", LocalExecutor(), task_bytes=20_000, **QUIET).run()
    err = capfd.readouterr().err
    assert "[00_read..02_test_min_length] 1/8 tasks" in err and "docs/s)" in err and ", ETA" in err
    assert "[03_test_drop_longest fit] 1/" in err


def test_ray_executor_keeps_a_bounded_window_of_tasks_in_flight():
    import ray

    from curate.executor import RayExecutor

    ex = RayExecutor(1)
    seen: list[int] = []
    real_wait = ray.wait

    def wait(refs, **kw):
        seen.append(len(refs))
        return real_wait(refs, **kw)

    try:
        ray.wait = wait
        assert ex.map(_square, list(range(40))) == [x * x for x in range(40)]
    finally:
        ray.wait = real_wait
        ex.shutdown()
    assert len(seen) == 40 and max(seen) <= 2 * max(2, ex.workers)


def _square(x: int) -> int:
    time.sleep(0.001)
    return x * x


def test_dry_run_prints_the_plan_and_writes_nothing(corpus, tmp_path):
    text = Pipeline.from_dict(three_stage(corpus)).describe(tmp_path / "r")
    assert "source docs (test_lines): 1 files, 8 units" in text
    assert "segment 1: 00_read -> 01_test_min_length -> 02_test_min_length" in text
    assert "segment 2: 03_test_drop_longest  [global pass (03_test_drop_longest fit)" in text
    assert "8 tasks (reader units, small files packed); peak memory per task about" in text and "projected disk" in text
    assert "of CPU before dedup" in text
    assert not (tmp_path / "r").exists()


def test_an_unwritable_out_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "curate",
            "run",
            str(REPO / "tests" / "recipes" / "e2e.yaml"),
            "--out",
            str(blocker / "run"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO), CURATE_CODE_DIR=str(tmp_path)),
    )
    # refused before any work (a bad --out is the user's input: exit 2), in one line
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0, p.stderr
    assert "Not a directory" in p.stderr and "cannot write to" in p.stderr and "Traceback" not in p.stderr
