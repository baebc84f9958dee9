"""The embedded lean Ray head: tasks run, and the raylet's two agents are the shell stand-in
(``curate/ray_agent_standin.sh``), not Python processes, and go when the head stops."""

from __future__ import annotations

import operator
import os
import shutil
import tempfile

import psutil
import pytest

from curate.executor import AGENT_STANDIN, RayExecutor
from curate.lean import ALLOCATOR_ENV

AGENT_SCRIPTS = ("dashboard/agent.py", "runtime_env/agent/main.py")


def _agents(raylet: psutil.Process) -> list[psutil.Process]:
    return [c for c in raylet.children() if any(s in " ".join(c.cmdline()) for s in AGENT_SCRIPTS)]


def _allocator_settings(_: object) -> dict[str, str | None]:
    import pyarrow as pa

    return {**{k: os.environ.get(k) for k in ALLOCATOR_ENV}, "pool": pa.default_memory_pool().backend_name}


@pytest.fixture
def executor(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "3")  # a user's own setting
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("CURATE_RAY_DASHBOARD", raising=False)
    tmp = tempfile.mkdtemp(prefix="rl", dir="/tmp")  # short: AF_UNIX socket paths are <= 107 bytes
    monkeypatch.setenv("RAY_TMPDIR", tmp)
    ex = RayExecutor(1)
    try:
        yield ex
    finally:
        ex.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def test_lean_head_runs_tasks_with_stand_in_agents_that_end_with_it(executor):
    raylet = psutil.Process(executor._node.all_processes["raylet"][0].process.pid)
    agents = _agents(raylet)
    assert executor.map(operator.neg, [3, 1, 2]) == [-3, -1, -2]
    assert sorted(next(s for s in AGENT_SCRIPTS if s in " ".join(a.cmdline())) for a in agents) == sorted(AGENT_SCRIPTS)
    for a in agents:
        assert a.cmdline()[1] == str(AGENT_STANDIN)  # /bin/sh running the stand-in, no Python agent
        assert a.memory_info().rss < 16 * 2**20
    executor.shutdown()
    gone, alive = psutil.wait_procs(agents, timeout=10)
    assert not alive


def test_stopping_the_lean_head_leaves_none_of_its_processes(executor):
    """``stop_raylet`` kills the raylet instead of waiting on its own slow stop: its workers, its agents, the
    GCS must all still end with it."""
    assert executor.map(operator.neg, [1, 2]) == [-1, -2]  # a worker has run a task
    head = [p for p in psutil.Process().children(recursive=True) if p.is_running()]
    raylet = psutil.Process(executor._node.all_processes["raylet"][0].process.pid)
    workers = [c for c in raylet.children() if c not in _agents(raylet)]
    assert workers and any("gcs_server" in " ".join(p.cmdline()) for p in head)
    executor.shutdown()
    gone, alive = psutil.wait_procs(head, timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive


def test_lean_head_workers_use_the_lean_allocators_and_keep_a_users_own_setting(executor):
    (got,) = executor.map(_allocator_settings, [0])
    assert got == {
        "ARROW_DEFAULT_MEMORY_POOL": "system",
        "MALLOC_ARENA_MAX": "3",
        "MALLOC_MMAP_THRESHOLD_": "1048576",
        "pool": "system",
    }
