"""The command line's errors: a bad recipe file, a missing input, a full disk or a read-only --out, Ctrl-C,
and a standalone command's bad options or inputs are each one line (exit code, no traceback).
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from curate import cli
from curate.pipeline import Pipeline
from curate.recipe import RecipeError
from tests import REPO
from tests.support.recipes import books_recipe


def _run_cli(tmp_path: Path, corpus: Path, capsys, out: Path) -> tuple[int, str]:
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(books_recipe(corpus)))
    rc = cli.main(["run", str(p), "--out", str(out), "--workers", "0"])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("code,words", [(errno.ENOSPC, "disk full"), (errno.EROFS, "read-only file system")])
def test_disk_full_and_read_only_out_are_one_line(
    corpus: Path, tmp_path: Path, capsys, monkeypatch, code: int, words: str
) -> None:
    import pyarrow.parquet as pq

    def failing(*args, **kw):  # the disk fills up while the first task writes its parts
        raise OSError(code, os.strerror(code), str(args[1] if len(args) > 1 else args[0]))

    def fill_disk() -> None:
        monkeypatch.setattr(pq, "write_table", failing)
        monkeypatch.setattr(pq, "ParquetWriter", failing)

    fill_disk()
    monkeypatch.delenv("CURATE_DEBUG", raising=False)
    rc, err = _run_cli(tmp_path, corpus, capsys, tmp_path / "out")
    last = err.strip().splitlines()[-1]  # progress logs go to stderr too; the failure is one line after them
    assert rc == 1 and "Traceback" not in err
    assert words in last and "run the same command again" in last and "resumes" in last
    monkeypatch.undo()  # space freed: the re-run completes
    rc, err = _run_cli(tmp_path, corpus, capsys, tmp_path / "out")
    assert rc == 0
    fill_disk()
    monkeypatch.setenv("CURATE_DEBUG", "1")
    with pytest.raises(OSError):
        _run_cli(tmp_path, corpus, capsys, tmp_path / "out2")


def test_ctrl_c_is_one_line_saying_a_rerun_resumes(corpus: Path, tmp_path: Path) -> None:
    recipe = {
        "name": "web",
        "seed": 1,
        "workers": 0,
        "stages": [{"extract": {}}],
        "sources": [{"name": "web", "kind": "web", "format": "warc", "paths": [str(corpus / "web" / "pages.warc.gz")]}],
    }
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CURATE_DEBUG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "curate", "run", str(p), "--out", str(out), "--workers", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while not (out / "recipe.json").exists() and time.time() < deadline:  # written as the run starts
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err  # progress logs go to stderr too; the last line is the message
    assert err.strip().splitlines()[-1] == (
        "interrupted (Ctrl-C); completed work is kept: run the same command again to resume"
    )


def test_standalone_key_values_fail_naming_the_option(corpus: Path, tmp_path: Path, capsys) -> None:
    docs = str(corpus / "dedup" / "docs.jsonl")
    assert cli.main(["mix", "--input", docs, "--output", str(tmp_path / "o.jsonl"), "--weight", "web=lots"]) == 2
    assert capsys.readouterr().err.startswith("error: --weight web: expected a number, got 'lots'")
    assert cli.main(["dedup", "--input", docs, "--output", str(tmp_path / "o.jsonl"), "--set", "ngram=["]) == 2
    assert capsys.readouterr().err.startswith("error: --set ngram: malformed YAML")


def test_standalone_inputs_of_the_wrong_kind_are_one_line(corpus: Path, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "o.jsonl")
    (tmp_path / "docs.jsonl").mkdir()
    assert cli.main(["dedup", "--input", str(tmp_path / "docs.jsonl"), "--output", out]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: --input {tmp_path / 'docs.jsonl'} is a directory; give its files or a glob"
    )
    bad_model = tmp_path / "sp.model"
    bad_model.write_bytes((corpus / "books" / "pg84.txt").read_bytes()[:4096])
    docs = str(corpus / "dedup" / "docs.jsonl")
    assert cli.main(["tokenize", "--input", docs, "--out", str(tmp_path / "t"), "--model", str(bad_model)]) == 2
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .startswith(f"error: tokenize.model: {str(bad_model)!r} is not a sentencepiece model")
    )
    assert cli.main(["eval-clean", "--labels", docs, "--input", docs]) == 2  # documents are not labels
    assert capsys.readouterr().err.startswith(f"error: {docs}: label record 1 (id 'd00000') needs id, doc_label")
    warc = tmp_path / "labels.jsonl"
    warc.write_bytes((corpus / "web" / "pages.warc.gz").read_bytes()[:3000])
    assert cli.main(["eval-clean", "--labels", str(warc), "--input", docs]) == 2
    assert capsys.readouterr().err.startswith(f"error: {warc}, line 1: not a JSON line")


def test_malformed_yaml_recipe_is_a_clear_cli_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsources: [\n  - {name: web\n")
    p = subprocess.run([sys.executable, "-m", "curate", "run", str(bad)], cwd=REPO, capture_output=True, text=True)
    assert p.returncode == 2 and "malformed YAML" in p.stderr and "Traceback" not in p.stderr


def test_unknown_stage_in_recipe_file_names_it_and_the_allowed_ones(tmp_path):
    r = tmp_path / "r.yaml"
    r.write_text(
        yaml.safe_dump(
            {
                "name": "x",
                "sources": [{"name": "b", "kind": "books", "format": "text", "paths": ["x"]}],
                "stages": [{"dedupe": {}}],
            }
        )
    )
    with pytest.raises(
        RecipeError,
        match=r"stages\[0\]: unknown stage 'dedupe' \(did you mean 'dedup'\?\); "
        r"allowed stages: extract, langid",
    ):
        Pipeline.from_recipe(r)


def test_missing_input_path_is_a_clear_cli_error(tmp_path):
    r = tmp_path / "r.yaml"
    r.write_text(
        yaml.safe_dump(
            {
                "name": "x",
                "workers": 0,
                "sources": [
                    {"name": "b", "kind": "books", "format": "text", "paths": [str(tmp_path / "nope" / "*.txt")]}
                ],
            }
        )
    )
    p = subprocess.run(
        [sys.executable, "-m", "curate", "run", str(r), "--out", str(tmp_path / "o")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2 and "no input file matches" in p.stderr and "Traceback" not in p.stderr
