"""Helpers for the end-to-end tests: run the e2e recipe on the real corpus and compare outputs."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests import REPO

E2E_RECIPE = REPO / "tests" / "recipes" / "e2e.yaml"


def e2e_env(corpus: Path) -> dict[str, str]:
    """Environment for the e2e recipe: the corpus and a small real code directory (stdlib json/)."""
    code = Path(sysconfig.get_paths()["stdlib"]) / "json"
    return dict(os.environ, CURATE_TEST_DATA=str(corpus), CURATE_CODE_DIR=str(code), PYTHONPATH=str(REPO))


def curate_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "curate", "run", str(E2E_RECIPE), "--out", str(out), *extra]


def run_curate(out: Path, corpus: Path, *extra: str) -> subprocess.CompletedProcess:
    p = subprocess.run(
        curate_cmd(out, *extra), cwd=REPO, env=e2e_env(corpus), capture_output=True, text=True, timeout=600
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def shard_bytes(run: Path) -> dict[str, bytes]:
    """Every file under shards/ (token files, indexes, lineage), by relative path."""
    files = sorted(f for f in (run / "shards").rglob("*") if f.is_file())
    assert files, f"no shards in {run}"
    return {str(f.relative_to(run)): f.read_bytes() for f in files}
