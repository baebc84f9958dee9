"""The wheel installs one import package, ``curate`` (with ``curate.filters``, ``curate.tokenizer``,
``curate.trainer`` and the recipes), and its ``curate`` command runs a shipped recipe from a fresh venv.

Offline: the wheel is built without build isolation, and the fresh venv (no pip, no packages) reaches the
pinned dependencies through a ``.pth`` line naming this venv's site-packages, where no curate is installed.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests import REPO


@pytest.fixture(scope="module")
def venv(installed_venv: Path) -> Path:
    return installed_venv


def _run(env: Path, *args: str, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(env / "bin" / "curate"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": f"{env / 'bin'}:/usr/bin:/bin", "HOME": str(cwd), **extra_env},
    )


def test_installed_names_version_and_help(venv: Path, tmp_path: Path) -> None:
    from curate import __version__

    assert _run(venv, "--version", cwd=tmp_path).stdout.strip() == f"curate {__version__}"
    assert _run(venv, "--help", cwd=tmp_path).stdout.startswith("usage: curate ")
    probe = (
        "import importlib.util as u, curate.filters.langid, curate.tokenizer.stage, curate.trainer.model;"
        "print([n for n in ('filters', 'tokenizer', 'trainer') if u.find_spec(n)]);"
        "import curate.filters.langid as m; print(m.__file__)"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[]"  # no generic top-level package is installed
    assert "/site-packages/curate/filters/langid.py" in out[1] and str(REPO) not in out[1]


def test_installed_curate_runs_a_shipped_recipe(venv: Path, corpus: Path, tmp_path: Path) -> None:
    p = _run(
        venv,
        "run",
        "quickstart",
        "--out",
        "run",
        "--workers",
        "0",
        cwd=tmp_path,
        CURATE_INPUT=str(corpus / "dedup" / "docs.jsonl"),
    )
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["reconciles"] and summary["stages"][0]["in"] == 400
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["eod_is_eos"] and manifest["tokens"]["train"] > 0
    assert (tmp_path / "run" / "report.html").exists()
    assert not os.path.exists(tmp_path / "runs")  # --out honoured
