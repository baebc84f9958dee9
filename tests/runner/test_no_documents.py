"""A stage that receives no document fails the run with "no document reached <stage>", whatever its
settings: ``tokenize`` with an existing tokenizer model (rather than exit 0 with no token in any shard), a
stage fused after the one that dropped everything, and a stage with its own global pass. Inputs: real books
of the corpus, every one dropped by a language filter that keeps only Zulu.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from curate.pipeline import Pipeline
from curate.runner import NoDocuments
from curate.standalone import train_tokenizer
from tests import REPO


def _recipe(corpus: Path, stages: list) -> dict:
    return {
        "name": "none",
        "seed": 1,
        "workers": 0,
        "stages": [{"langid": {"languages": ["zu"]}}, *stages],
        "sources": [
            {
                "name": "books",
                "kind": "books",
                "format": "text",
                "paths": [str(corpus / "books" / "pg84.txt"), str(corpus / "books" / "11-0.txt")],
            }
        ],
    }


@pytest.mark.parametrize(
    "stages,stage",
    [
        ([{"heuristics": {}}], "heuristics"),  # fused with langid: reached by nothing inside the same task
        ([{"dedup_exact": {}}], "dedup_exact"),  # its global pass would run on nothing
    ],
)
def test_a_stage_no_document_reaches_fails_the_run(corpus: Path, tmp_path: Path, stages: list, stage: str) -> None:
    with pytest.raises(NoDocuments, match=rf"^no document reached {stage} \(02_{stage}\): every document was dropped"):
        Pipeline.from_dict(_recipe(corpus, stages)).run(out=tmp_path / "run", workers=0, log=lambda m: None)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["failed"].startswith(f"no document reached {stage}")
    assert summary["stages"][1]["in"] == 2 and summary["stages"][1]["dropped"] == {"lang:en": 2}


def test_tokenize_with_an_existing_model_and_no_document_fails_in_one_line(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "docs.jsonl").write_text(
        "".join(
            json.dumps({"text": t}) + "\n"
            for t in (corpus / "books" / "11-0.txt").read_text(encoding="utf-8").split("\n\n")[:300]
        ),
        encoding="utf-8",
    )
    model = train_tokenizer([str(tmp_path / "docs.jsonl")], str(tmp_path / "tok"), vocab_size=400, seed=1)
    recipe = _recipe(corpus, [{"tokenize": {"vocab_size": 400}}])
    recipe["tokenizer"] = model
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    p = subprocess.run(
        [sys.executable, "-m", "curate", "run", str(tmp_path / "r.yaml"), "--out", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert p.returncode == 2, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("error: no document reached tokenize (02_tokenize)") and "Traceback" not in p.stderr
    assert not (tmp_path / "run" / "manifest.json").exists()  # no empty shard set published
