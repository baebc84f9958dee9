"""Atomic publish of a shard set: a re-run over a finished directory that dies at any point (simulated at each
step of the publish, and by SIGKILL at random moments) leaves ``manifest.json`` naming complete files whose
digests match it; the next complete run publishes its own set and removes the others."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import curate.shards.publish as publish
import curate.shards.writer as writer
from curate.shards.publish import check_published
from curate.trace import trace
from tests import REPO
from tests.support.docs import build_run, corpus_docs, write_parts


class Killed(Exception):
    pass


def _die(*_a, **_k):
    raise Killed


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def _sets(run: Path) -> list[str]:
    return sorted(p.name for p in run.glob("shards-*"))


@pytest.fixture()
def finished(corpus: Path, tmp_path: Path) -> tuple[Path, list[Path]]:
    parts = write_parts(corpus_docs(corpus)[:150], 2, tmp_path / "in")
    run = tmp_path / "run"
    build_run(parts, run, seed=11)
    assert check_published(run) == [] and len(_sets(run)) == 1
    return run, parts


@pytest.mark.parametrize("where", ["shard", "rename", "manifest", "link"])
def test_interrupted_publish_leaves_a_consistent_manifest(finished, monkeypatch, where) -> None:
    run, parts = finished
    before = _manifest(run)
    model = str(run / "tokenizer" / "tokenizer.model")
    target = {
        "shard": (writer, "_write_shard"),
        "rename": (publish, "write_json_atomic"),
        "manifest": (publish, "_point_link"),
        "link": (publish, "_remove_other_sets"),
    }[where]
    with monkeypatch.context() as m:
        m.setattr(*target, _die)
        with pytest.raises(Killed):
            build_run(parts, run, seed=12, model=model)  # another seed: every shard differs
    assert check_published(run) == []
    after = _manifest(run)
    # until manifest.json is replaced the old set stays published; from then on, the new one
    assert (after == before) == (where in ("shard", "rename"))
    e = after["splits"]["train"][0]
    assert trace(run, e["name"], 0)["doc_index"] == 0
    build_run(parts, run, seed=12, model=model)
    assert check_published(run) == [] and len(_sets(run)) == 1 and not (run / publish.STAGING).exists()
    assert (run / "shards").resolve() == (run / _sets(run)[0]).resolve()


def test_identical_rerun_keeps_the_published_set(finished) -> None:
    run, parts = finished
    before, name = _manifest(run), _sets(run)
    build_run(parts, run, seed=11)
    assert _manifest(run) == before and _sets(run) == name and check_published(run) == []


def test_sigkill_during_a_rerun_never_breaks_the_manifest(finished) -> None:
    run, parts = finished
    script = (
        f"import sys; sys.path.insert(0, {str(REPO)!r}); from pathlib import Path; "
        "from tests.support.docs import build_run; "
        f"build_run([Path(p) for p in {[str(p) for p in parts]!r}], Path({str(run)!r}), seed=SEED, "
        f"model={str(run / 'tokenizer' / 'tokenizer.model')!r})"
    )
    rng = random.Random(7)
    killed = 0
    for attempt in range(4):
        shutil.rmtree(run / publish.STAGING, ignore_errors=True)  # wait for this attempt's own staging
        proc = subprocess.Popen([sys.executable, "-c", script.replace("SEED", str(20 + attempt))], cwd=REPO)
        t0 = time.time()
        while not (run / publish.STAGING).exists() and proc.poll() is None and time.time() - t0 < 60:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.15))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        assert check_published(run) == [], f"attempt {attempt}"
    assert killed >= 2


def test_a_run_from_before_shard_sets_is_taken_over(finished) -> None:
    run, parts = finished
    link_target = (run / "shards").resolve()
    (run / "shards").unlink()
    (run / "shards").mkdir()  # the old layout: shards/ a plain directory
    (run / "shards" / "train-00000.bin").write_bytes(b"old")
    build_run(parts, run, seed=12, model=str(run / "tokenizer" / "tokenizer.model"))
    assert (run / "shards").is_symlink() and check_published(run) == [] and not link_target.exists()
