"""Shared fixtures: where the real test corpus lives (read in place, never copied)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Tests that ask for Ray workers mean to exercise Ray, on inputs far under the size where a real run goes
# in-process (curate.smalljob); tests/test_smalljob.py checks that rule with the variable unset.
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


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory) -> Path:
    """A fresh venv with curate installed from a wheel of this checkout (built once per session)."""
    from tests.wheel_env import wheel_venv

    return wheel_venv(tmp_path_factory.mktemp("wheel"))
