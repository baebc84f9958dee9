"""Issue 14, class 7 (recipes and settings): an unset ``${VAR}`` without default is an error naming the
variable and the key; relative paths resolve against the recipe's directory (the project root for a
recipe in ``recipes/``); numbers are range-checked with errors naming the key; disk full, a read-only
``--out`` and Ctrl-C end in one line saying what happened and that a re-run resumes (a traceback only with
``CURATE_DEBUG=1``); a source whose files yield no document is named in the summary. Inputs: the real
books and JSONL documents of the corpus, and the repository's own recipes.
"""
from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from curate import cli
from curate.pipeline import Pipeline
from curate.recipe import RecipeError, load_recipe

REPO = Path(__file__).resolve().parent.parent


def _books_recipe(corpus: Path, **extra) -> dict:
    return {"name": "books", "seed": 1, "workers": 0,
            "sources": [{"name": "books", "kind": "books", "format": "text",
                         "paths": [str(corpus / "books" / "pg84.txt"), str(corpus / "books" / "11-0.txt")]}],
            "stages": [], **extra}


def test_unset_variable_without_default_names_variable_and_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CURATE_I14_UNSET", raising=False)
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump({"name": "r", "sources": [{"name": "b", "kind": "books", "format": "text",
                                                           "paths": ["${CURATE_I14_UNSET}/books/*.txt"]}]}))
    with pytest.raises(RecipeError, match=r"sources\[0\]\.paths\[0\]: environment variable CURATE_I14_UNSET is not set"):
        load_recipe(p)
    monkeypatch.setenv("CURATE_I14_UNSET", "")  # set but empty: the same (it would make "/books/*.txt")
    with pytest.raises(RecipeError, match="CURATE_I14_UNSET"):
        load_recipe(p)


def test_relative_paths_resolve_against_the_recipe_directory(corpus: Path, tmp_path: Path, monkeypatch) -> None:
    d = tmp_path / "project" / "conf"
    (d / "books").mkdir(parents=True)
    shutil.copy(corpus / "books" / "pg84.txt", d / "books" / "pg84.txt")
    (d / "r.yaml").write_text(yaml.safe_dump({"name": "rel", "workers": 0, "sources": [
        {"name": "b", "kind": "books", "format": "text", "paths": ["books/*.txt", "${CURATE_I14_X:-books}/pg84.txt"]}]}))
    monkeypatch.chdir(tmp_path)  # elsewhere: the paths still mean the recipe's files
    r = load_recipe(Path("project/conf/r.yaml"))
    assert r.sources[0].paths == [str(d / "books" / "*.txt"), str(d / "books" / "pg84.txt")]
    with_model = yaml.safe_load((d / "r.yaml").read_text())
    with_model["stages"] = [{"langid": {"model": "models/lid.ftz"}}, {"tokenize": {"model": "tok/sp.model"}}]
    (d / "m.yaml").write_text(yaml.safe_dump(with_model))
    stages = load_recipe(Path("project/conf/m.yaml")).stages  # model paths declared PATH resolve the same way
    assert [s.config["model"] for s in stages] == [str(d / "models" / "lid.ftz"), str(d / "tok" / "sp.model")]
    summary = Pipeline(r).run(out=tmp_path / "run", workers=0, log=lambda m: None)
    assert summary["stages"][0]["kept"] == 1  # the same file named twice is read once


@pytest.mark.parametrize("stage,key,value,message", [
    ("dedup", "threshold", 0, r"stages\[0\]\.dedup\.threshold: 0\.0 is out of range \(must be > 0 and <= 1\)"),
    ("dedup", "threshold", 1.01, r"stages\[0\]\.dedup\.threshold: 1\.01 is out of range"),
    ("mix", "weights", {"books": -0.5}, r"stages\[0\]\.mix\.weights\.books: -0\.5 is out of range \(must be >= 0\)"),
    ("mix", "weights", {"books": float("inf")}, r"stages\[0\]\.mix\.weights\.books: expected a finite number"),
    ("mix", "weights", {"books": float("nan")}, r"stages\[0\]\.mix\.weights\.books: expected a finite number"),
    ("tokenize", "vocab_size", 200, r"stages\[0\]\.tokenize\.vocab_size: 200 is out of range \(must be >= 261 and "
                                    r"<= 2147483647\)"),
    ("quality", "alpha", -1, r"stages\[0\]\.quality\.alpha: -1\.0 is out of range"),
    ("extract", "timeout_s", -5, r"stages\[0\]\.extract\.timeout_s: -5\.0 is out of range"),
])
def test_numbers_are_range_checked_by_key(corpus: Path, stage: str, key: str, value, message: str) -> None:
    cfg = {key: value} if stage != "mix" else {"weights": value}
    with pytest.raises(RecipeError, match=message):
        Pipeline.from_dict(_books_recipe(corpus, stages=[{stage: cfg}]))


def test_workers_and_reader_options_are_range_checked(corpus: Path) -> None:
    with pytest.raises(RecipeError, match=r"^workers: -1 is out of range"):
        Pipeline.from_dict(_books_recipe(corpus, workers=-1))
    with pytest.raises(RecipeError, match=r"^seed: -3 is out of range"):
        Pipeline.from_dict(_books_recipe(corpus, seed=-3))
    r = _books_recipe(corpus)
    r["sources"][0]["options"] = {"max_bytes": 0}
    with pytest.raises(RecipeError, match=r"sources\[0\]\.options\.max_bytes: 0 is out of range"):
        Pipeline.from_dict(r)
    assert cli.main(["run", str(REPO / "recipes" / "gpt3mix.yaml"), "--workers", "-2"]) == 2


def _run_cli(tmp_path: Path, corpus: Path, capsys, out: Path) -> tuple[int, str]:
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(_books_recipe(corpus)))
    rc = cli.main(["run", str(p), "--out", str(out), "--workers", "0"])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("code,words", [(errno.ENOSPC, "disk full"), (errno.EROFS, "read-only file system")])
def test_disk_full_and_read_only_out_are_one_line(corpus: Path, tmp_path: Path, capsys, monkeypatch,
                                                  code: int, words: str) -> None:
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
    recipe = {"name": "web", "seed": 1, "workers": 0, "stages": [{"extract": {}}],
              "sources": [{"name": "web", "kind": "web", "format": "warc",
                           "paths": [str(corpus / "web" / "pages.warc.gz")]}]}
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CURATE_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "curate", "run", str(p), "--out", str(out), "--workers", "0"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "recipe.json").exists() and time.time() < deadline:  # written as the run starts
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err  # progress logs go to stderr too; the last line is the message
    assert err.strip().splitlines()[-1] == ("interrupted (Ctrl-C); completed work is kept: run the same command "
                                            "again to resume")


def test_a_source_without_documents_is_named_in_the_summary(corpus: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.txt").write_bytes(b"")
    (empty / "b.txt").write_bytes((corpus / "web" / "pages.warc.gz").read_bytes()[:4096])  # binary
    r = _books_recipe(corpus)
    r["sources"].append({"name": "blank", "kind": "books", "format": "text", "paths": [str(empty / "*.txt")]})
    logs: list[str] = []
    summary = Pipeline.from_dict(r).run(out=tmp_path / "run", workers=0, log=logs.append)
    read = summary["stages"][0]
    assert read["sources_without_documents"] == ["blank"] and read["by_source"]["blank"]["dropped"] == 2
    assert any("'blank' matched input files but yielded no document" in m for m in logs)
