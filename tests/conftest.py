"""Shared fixtures: where the real test corpus lives (read in place, never copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import REPO

# Tests that ask for Ray workers mean to exercise Ray, on inputs far under the size where a real run goes
# in-process (curate.smalljob); tests/runner/test_smalljob.py checks that rule with the variable unset.
os.environ.setdefault("CURATE_MIN_RAY_INPUT_MB", "0")


def corpus_dir() -> Path:
    return Path(os.environ.get("CURATE_TEST_DATA", REPO.parent / "shared" / "corpus")).resolve()


@pytest.fixture(scope="session")
def corpus() -> Path:
    d = corpus_dir()
    if not (d / "MANIFEST.md").exists():
        pytest.fail(f"test corpus not found at {d}; set CURATE_TEST_DATA")
    return d


@pytest.fixture(scope="session")
def stdlib_dir() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["stdlib"])


# `make test` runs pytest -n 2 --dist loadscope: each scope below goes to one worker, its tests one after
# another. A scope is a test module (its module-scoped fixtures, such as a run its tests inspect, are built
# once), or a group of modules that share something costly or exclusive: the session's wheel venv (install),
# Ray clusters on loopback ports chosen free just before they start (ray), the reference e2e run (e2e_run).
# (pytest-xdist's xdist_group mark does not take effect under pytest 9, which no longer reads Item._nodeid.)
SHARED_SCOPES = {
    "tests/install/": "wheel",
    "tests/ray/": "ray",
    "tests/e2e/test_e2e.py": "e2e_run",
    "tests/e2e/test_crash_resume.py": "e2e_run",
}
# Scopes of minutes (4 to 6 serial, measured), sent first so that none is left running alone at the end.
LONG_SCOPES = ("e2e_run", "wheel", "tests/sources/test_wiki.py", "ray")


def scope_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return next((scope for prefix, scope in SHARED_SCOPES.items() if path.startswith(prefix)), path)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedScopeScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

        def _assign_work_unit(self, node) -> None:
            for scope in reversed(LONG_SCOPES):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return SharedScopeScheduling(config, log)


@pytest.fixture(scope="session")
def e2e_clean_run(corpus, tmp_path_factory) -> tuple[Path, float]:
    """The e2e recipe run once, uninterrupted: its folder and the seconds it took. The reference that other runs
    of the recipe (one worker, killed and resumed) must match byte for byte; its users share the e2e_run scope."""
    import time

    from tests.support.e2e import run_curate

    out = tmp_path_factory.mktemp("e2e") / "run"
    t0 = time.time()
    run_curate(out, corpus)
    return out, time.time() - t0
