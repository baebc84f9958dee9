"""Fixtures of the end-to-end tests."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.e2e import run_curate


@pytest.fixture(scope="session")
def e2e_clean_run(corpus, tmp_path_factory) -> tuple[Path, float]:
    """The e2e recipe run once, uninterrupted: its folder and the seconds it took. The reference that other runs
    of the recipe (one worker, killed and resumed) must match byte for byte; its users share one xdist scope (tests/conftest.py)."""
    out = tmp_path_factory.mktemp("e2e") / "run"
    t0 = time.time()
    run_curate(out, corpus)
    return out, time.time() - t0
