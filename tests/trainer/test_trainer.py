"""Trainer stub: validation loss falls on a short CPU run; mismatched manifests are refused clearly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from curate.trainer.__main__ import main as trainer_main
from curate.trainer.train import train
from tests.support.docs import build_run, corpus_docs, write_parts


@pytest.fixture(scope="module")
def run(corpus: Path, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("trainrun")
    build_run(write_parts(corpus_docs(corpus), 2, d / "in"), d, seed=3, vocab_size=512, val_fraction=0.1)
    return d


def test_val_loss_decreases_and_checkpoint_saved(run: Path, tmp_path: Path) -> None:
    logs: list[str] = []
    h = train(
        run / "manifest.json",
        steps=150,
        config="tiny",
        device="cpu",
        out=tmp_path,
        eval_every=50,
        cpu_threads=1,
        log=logs.append,
    )
    first, last = h["val"][0][1], h["val"][-1][1]
    assert len(h["val"]) == 4 and last < first - 1.0, h["val"]
    assert h["train"][-1][1] < h["train"][0][1]
    assert h["tokens_per_s"] > 0 and any("tokens/s" in line for line in logs)
    ck = torch.load(tmp_path / "ckpt.pt", weights_only=False)
    assert ck["step"] == 150 and ck["model_config"]["vocab_size"] == 512
    h2 = train(
        run / "manifest.json",
        steps=2,
        device="cpu",
        out=tmp_path / "b",
        resume=tmp_path / "ckpt.pt",
        cpu_threads=1,
        log=lambda s: None,
    )
    assert h2["train"][0][0] == 151


def _copy(run: Path, tmp: Path) -> Path:
    dst = tmp / "copy"
    shutil.copytree(run, dst, symlinks=True, ignore=shutil.ignore_patterns("stages", "in", "work"))
    return dst


def _edit(path: Path, **changes) -> None:
    m = json.loads(path.read_text())
    m.update(changes)
    path.write_text(json.dumps(m))


def test_refuses_mismatched_manifest(run: Path, tmp_path: Path) -> None:
    d = _copy(run, tmp_path)
    _edit(d / "manifest.json", vocab_size=70_000)
    with pytest.raises(SystemExit, match="dtype uint16 does not match vocab size 70000"):
        train(d / "manifest.json", steps=1, device="cpu")
    _edit(d / "manifest.json", vocab_size=600)
    with pytest.raises(SystemExit, match="vocab_size 600 but the tokenizer .* has 512 pieces"):
        train(d / "manifest.json", steps=1, device="cpu")
    _edit(d / "manifest.json", vocab_size=512, dtype="int32")
    with pytest.raises(SystemExit, match="dtype int32 does not match vocab size 512"):
        train(d / "manifest.json", steps=1, device="cpu")
    _edit(d / "manifest.json", dtype="uint16")
    (d / "shards" / "val-00000.idx").unlink()
    with pytest.raises(SystemExit, match="val-00000.idx is missing"):
        trainer_main(["--manifest", str(d / "manifest.json"), "--steps", "1", "--device", "cpu"])
    with pytest.raises(SystemExit, match="does not exist"):
        train(tmp_path / "nope.json", steps=1)


def test_default_config_is_chosen_by_device_and_printed(run: Path, tmp_path: Path) -> None:
    from curate.trainer.train import auto_config

    assert auto_config(torch.device("cuda")) == "small"  # a GPU keeps the larger default
    logs: list[str] = []
    h = train(run / "manifest.json", steps=2, config="auto", device="cpu", out=tmp_path, log=logs.append)
    assert logs[0].startswith("trainer: config cpu (auto") and "cpu GPT" in logs[1]
    assert h["config"]["n_embd"] == 96 and torch.get_num_threads() == 1
    from curate.trainer.__main__ import build_parser

    assert build_parser().parse_args(["--manifest", "m.json"]).config == "auto"
