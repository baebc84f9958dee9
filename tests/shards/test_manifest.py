"""A shard set's manifest.json is checked by its readers: the trainer and `curate trace` refuse a
hand-edited manifest in one line, too few tokens for one window is said clearly, and a damaged shard set is
republished on resume.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curate.pipeline import Pipeline
from tests import REPO
from tests.support.recipes import QUIET, books_recipe


@pytest.fixture(scope="module")
def shard_run(corpus: Path, tmp_path_factory) -> Path:
    from tests.support.docs import build_run, corpus_docs, write_parts

    d = tmp_path_factory.mktemp("shardrun")
    build_run(write_parts(corpus_docs(corpus)[:40], 1, d / "in"), d, seed=3, vocab_size=512, val_fraction=0.1)
    return d


def _trainer(manifest: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CURATE_DEBUG", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "curate.trainer",
            "--manifest",
            str(manifest),
            "--steps",
            "1",
            "--config",
            "tiny",
            "--device",
            "cpu",
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_hand_edited_manifest_is_refused_in_one_line(shard_run: Path, tmp_path: Path) -> None:
    from curate.trainer.train import train

    good = json.loads((shard_run / "manifest.json").read_text())
    entry = good["splits"]["train"][0]
    edits = {
        "not JSON": "{",
        "a list": [],
        "vocab_size 'x'": dict(good, vocab_size="x"),
        "dtype float99": dict(good, dtype="float99"),
        "splits list": dict(good, splits=[1]),
        "tokenizer str": dict(good, tokenizer="x"),
        "no prefix": dict(good, splits={"train": [{k: v for k, v in entry.items() if k != "prefix"}]}),
        "prefix outside": dict(good, splits={"train": [dict(entry, prefix="../../../../etc/hostname")]}),
        "no train": dict(good, splits={"train": []}),
    }
    for what, m in edits.items():
        f = shard_run / "manifest.edited.json"
        f.write_text(m if isinstance(m, str) else json.dumps(m))
        with pytest.raises(SystemExit, match="^trainer: refusing manifest: "):
            train(f, steps=1, device="cpu", log=lambda s: None)
    p = _trainer(shard_run / "manifest.edited.json", "--batch-size", "0")  # bad flags: one line, no traceback
    assert p.returncode != 0 and p.stderr.strip() == "trainer: --batch-size 0 is out of range (must be >= 1)"
    (tmp_path / "ckpt.pt").write_bytes(b"not a checkpoint")
    p = _trainer(shard_run / "manifest.json", "--resume", str(tmp_path / "ckpt.pt"))
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith(f"trainer: cannot load checkpoint {tmp_path / 'ckpt.pt'}")


def test_too_few_tokens_for_one_window_is_said_clearly(shard_run: Path, monkeypatch) -> None:
    from curate.trainer.data import Windows, load_manifest
    from curate.trainer.train import train

    _, splits = load_manifest(shard_run / "manifest.json")
    biggest = max(r.tokens.size for r in splits["train"])
    with pytest.raises(
        SystemExit,
        match=rf"no train shard has more than block_size\+1 = {biggest + 1} tokens "
        rf"\(the largest has {biggest}\): too little data for one training window",
    ):
        Windows(splits["train"], biggest, seed=0)
    val = max(r.tokens.size for r in splits["val"])
    assert val < biggest
    logs: list[str] = []
    from curate.trainer import model

    monkeypatch.setitem(model.CONFIGS, "tiny", dict(model.CONFIGS["tiny"], block_size=val))  # val < one window
    h = train(
        shard_run / "manifest.json",
        steps=1,
        config="tiny",
        device="cpu",
        out=shard_run / "t",
        batch_size=1,
        cpu_threads=1,
        log=logs.append,
    )
    assert h["train"] and not h["val"]
    assert "trainer: no validation shard holds one window (block_size+1 tokens); no validation loss" in logs


@pytest.fixture(scope="module")
def tokenized(corpus: Path, tmp_path_factory) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("tok") / "run"
    r = books_recipe(corpus, [{"tokenize": {"vocab_size": 600, "shard_tokens": 50_000, "val_fraction": 0.3}}])
    Pipeline.from_dict(r).run(out=run, **QUIET)
    return run, r


def _published(run: Path) -> dict[str, bytes]:
    files = [run / "manifest.json", *sorted(p for p in (run / "shards").rglob("*") if p.is_file())]
    return {str(p.relative_to(run)): p.read_bytes() for p in files}


@pytest.mark.parametrize("damage", ["manifest cut", "manifest edited", "bin cut", "set removed", "link removed"])
def test_a_damaged_shard_set_is_republished_on_resume(tokenized, damage: str) -> None:
    run, r = tokenized
    before = _published(run)
    manifest = run / "manifest.json"
    bin_file = sorted((run / "shards").glob("train-*.bin"))[0]
    if damage == "manifest cut":
        manifest.write_bytes(manifest.read_bytes()[:200])
    elif damage == "manifest edited":
        m = json.loads(manifest.read_text())
        m["splits"]["train"][0]["tokens"] += 7
        manifest.write_text(json.dumps(m))
    elif damage == "bin cut":
        bin_file.write_bytes(bin_file.read_bytes()[:1000])
    elif damage == "set removed":
        import shutil

        shutil.rmtree((run / "shards").resolve())
    else:
        (run / "shards").unlink()
    logs: list[str] = []
    s = Pipeline.from_dict(r).run(out=run, workers=0, log=logs.append)
    assert any("[01_tokenize] redoing finalize:" in m for m in logs), logs
    assert s["reconciles"] and _published(run) == before


def test_trace_refuses_a_hand_edited_manifest_clearly(shard_run: Path, tmp_path: Path) -> None:
    import shutil

    from curate.trace import TraceError, trace

    run = tmp_path / "copy"
    shutil.copytree(shard_run, run, symlinks=True)
    good = json.loads((run / "manifest.json").read_text())
    entry = good["splits"]["train"][0]
    for m, message in [
        ([], "not a curate shard manifest"),
        ({k: v for k, v in good.items() if k != "eod_id"}, "needs splits, lineage and eod_id"),
        (dict(good, splits={"train": ["x"]}), "a shard entry is malformed"),
        (dict(good, splits={"train": [{k: v for k, v in entry.items() if k != "name"}]}), "a shard entry is malformed"),
        (dict(good, lineage="nope/lineage"), "cannot read its lineage"),
    ]:
        (run / "manifest.json").write_text(json.dumps(m))
        with pytest.raises(TraceError, match=message):
            trace(run, 0, 1)
    (run / "manifest.json").write_text(json.dumps(dict(good, documents=["../../../../etc/hostname"])))
    assert trace(run, 0, 1)["text"] is None  # a document path outside the run is never read
