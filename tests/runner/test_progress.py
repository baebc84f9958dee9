"""Progress comes from inside the running tasks: a one-file input (one task) shows lines while that task
runs, with bytes read of the known input size and an ETA, in-process and on Ray workers.

The interval is ``CURATE_PROGRESS_S=0.2`` on a small real dump (seconds of reading), where a real run has
15 s on inputs of minutes: every line counted below is printed while the run's single task has not finished
(``0/1 tasks``), so it can only come from the task's heartbeats.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from curate.pipeline import Pipeline

LINE = re.compile(
    r"^\[00_read\.\.01_langid\] (\d+)/1 tasks, ([\d,]+) docs .*?, ([\d.,]+ k?B) of ([\d.,]+ kB) read "
    r"\(.*?/s\)(, ETA \S+)? \("
)


def _kb(text: str) -> float:
    n, unit = text.split()
    return float(n.replace(",", "")) / (1000 if unit == "B" else 1)


def _recipe(corpus: Path, workers: int) -> dict:
    return {
        "name": "progress",
        "seed": 0,
        "workers": workers,
        "sources": [
            {
                "name": "wiki",
                "kind": "wiki",
                "format": "mediawiki",
                "paths": [str(corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2")],
            }
        ],
        "stages": [{"langid": {}}],
    }


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "ray"])
def test_one_task_reports_progress_while_it_runs(corpus, tmp_path, monkeypatch, capfd, workers):
    monkeypatch.setenv("CURATE_PROGRESS_S", "0.2")
    log: list[str] = []
    s = Pipeline.from_dict(_recipe(corpus, workers)).run(out=tmp_path / "r", workers=workers, log=log.append)
    err = capfd.readouterr().err.splitlines()
    running = [m for line in err if (m := LINE.match(line)) and m.group(1) == "0"]
    assert len(running) >= 2, err[-20:]
    size_kb = (corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").stat().st_size / 1000
    read = [_kb(m.group(3)) for m in running]
    assert all(abs(_kb(m.group(4)) - size_kb) < 0.1 for m in running)
    assert read == sorted(read) and 0 < max(read) <= size_kb + 0.1  # bytes read grow, from the running task
    assert any(m.group(5) for m in running)  # an ETA from the bytes read before the task ends
    assert s["stages"][0]["in"] == 71
    assert not (tmp_path / "r" / "_state" / "00_read" / "progress").exists()  # heartbeats cleaned up
