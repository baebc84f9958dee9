"""SIGTERM stops a run like Ctrl-C, in-process and under Ray: one line, exit 143, no traceback or native
crash dump on stderr, and the same command then resumes and completes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests import REPO

LINE = "terminated (SIGTERM); completed work is kept: run the same command again to resume"


def _start(recipe: Path, out: Path, workers: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "curate", "run", str(recipe), "--out", str(out), "--workers", str(workers)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("workers", [0, 2])
def test_sigterm_is_one_line_and_the_run_resumes(corpus: Path, tmp_path: Path, workers: int) -> None:
    wiki = corpus / "wiki"
    recipe = {
        "name": "mixed",
        "seed": 1,
        "stages": [],
        "sources": [
            {"name": "web", "kind": "web", "format": "warc", "paths": [str(corpus / "web" / "pages.warc.gz")]},
            {"name": "wiki", "kind": "wiki", "format": "mediawiki", "paths": [str(wiki / "ukwiki-*.xml.bz2")]},
        ],
    }
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "out"
    raytmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # this test's own Ray session dir (short socket paths)
    env = dict(os.environ, PYTHONPATH=str(REPO), RAY_TMPDIR=raytmp)
    env.pop("CURATE_DEBUG", None)
    env.pop("RAY_ADDRESS", None)
    try:
        proc = _start(path, out, workers, env)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
        reader.start()
        deadline = time.time() + 120
        while not any("tasks to run" in ln for ln in lines) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # the read tasks (several seconds of wikitext) are running
        proc.wait(timeout=120)
        reader.join(timeout=10)
        err = "".join(lines)
        assert proc.returncode == 143, err[-3000:]
        # one line of ours, neither silence nor Ray's exit-1 "*** SIGTERM received" dump
        assert "Traceback" not in err and "***" not in err and "SIGTERM received" not in err, err[-3000:]
        assert err.strip().splitlines()[-1] == LINE
        if not workers:
            return  # resuming is the same either way: checked once
        again = _start(path, out, 0, env)
        _, err = again.communicate(timeout=300)
        assert again.returncode == 0, err[-3000:]
        assert (out / "report.html").exists()
    finally:
        shutil.rmtree(raytmp, ignore_errors=True)
