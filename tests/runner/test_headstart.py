"""The embedded Ray head starts on a thread while the driver plans; it serves the run's passes and is gone
after shutdown, whether or not a pass ever ran."""

from __future__ import annotations

import os

import psutil

from curate.headstart import StartingExecutor


def _ray_children() -> list[str]:
    names = []
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if "gcs_server" in cmd or "/raylet" in cmd:
            names.append(cmd[:80])
    return names


def test_the_head_started_beside_planning_runs_passes_then_stops() -> None:
    ex = StartingExecutor(2)
    try:
        assert ex.workers == min(2, len(os.sched_getaffinity(0)))  # known before the head is up
        assert ex.map(len, [b"ab", b"", b"xyz"], desc="t") == [2, 0, 3]
        assert "t" in ex.task_cpu_s and _ray_children()
    finally:
        ex.shutdown()
    assert _ray_children() == []


def test_a_head_never_used_is_stopped_too() -> None:
    ex = StartingExecutor(1)
    ex.shutdown()  # e.g. a recipe error found while planning, before any pass
    assert _ray_children() == []
