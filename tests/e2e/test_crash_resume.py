"""Crash-proof resume: SIGKILL the run (driver and its Ray processes) or one Ray worker at random
points, re-run, and get shards byte-identical to an uninterrupted run."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.support.e2e import REPO, curate_cmd, e2e_env, run_curate, shard_bytes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clean_run(e2e_clean_run) -> tuple[Path, float]:
    return e2e_clean_run


def _kill_tree(root: psutil.Process) -> None:
    procs = [root] + root.children(recursive=True)
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=30)


def _stages_done(run: Path) -> int:
    return len(list((run / "_state").glob("*/_SUCCESS.json")))


def test_sigkill_at_random_points_then_resume_gives_identical_shards(clean_run, corpus, tmp_path):
    clean, _ = clean_run
    total = _stages_done(clean)
    rng = random.Random(20261123)
    out = tmp_path / "killed"
    # Kill on progress, not on a clock (a resumed run is faster than the clean one, so a time-based kill can
    # land after it finished): after stage k has committed, a random moment inside the following stage(s).
    targets = sorted(rng.sample(range(1, total - 1), 3))
    reached = []
    for target in targets:
        proc = subprocess.Popen(
            curate_cmd(out),
            cwd=REPO,
            env=e2e_env(corpus),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        t0 = time.time()
        while _stages_done(out) < target and proc.poll() is None and time.time() - t0 < 600:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is None:
            _kill_tree(psutil.Process(proc.pid))
        proc.wait()
        reached.append(_stages_done(out))
    assert sum(r < total for r in reached) >= 2, f"kills landed after the run: {reached} of {total} stages"
    run_curate(out, corpus)
    assert shard_bytes(out) == shard_bytes(clean)


def test_sigkill_of_a_ray_worker_is_retried_and_output_identical(clean_run, corpus, tmp_path):
    clean, seconds = clean_run
    out = tmp_path / "worker_killed"
    proc = subprocess.Popen(
        curate_cmd(out),
        cwd=REPO,
        env=e2e_env(corpus),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    killed = None
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < 300 and killed is None:
        busy = [
            p for p in psutil.Process(proc.pid).children(recursive=True) if any("ray::_call" in c for c in _cmdline(p))
        ]
        if busy and _stages_done(out) >= 2:
            killed = busy[0].pid
            busy[0].send_signal(signal.SIGKILL)
        time.sleep(0.05)
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output[-3000:]
    assert killed is not None, "no busy Ray worker was seen to kill"
    assert shard_bytes(out) == shard_bytes(clean)


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []
