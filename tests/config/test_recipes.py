"""Recipe values: an unset ``${VAR}`` without default is an error naming the variable and the key; relative
paths resolve against the recipe's directory (the project root for a recipe in ``recipes/``); numbers, workers
and reader options are range-checked with errors naming the key. Inputs: the real books and JSONL documents of
the corpus, and the repository's own recipes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from curate import cli
from curate.pipeline import Pipeline
from curate.recipe import RecipeError, load_recipe
from tests import REPO
from tests.support.recipes import books_recipe


def test_unset_variable_without_default_names_variable_and_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CURATE_I14_UNSET", raising=False)
    p = tmp_path / "r.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "name": "r",
                "sources": [
                    {"name": "b", "kind": "books", "format": "text", "paths": ["${CURATE_I14_UNSET}/books/*.txt"]}
                ],
            }
        )
    )
    with pytest.raises(
        RecipeError, match=r"sources\[0\]\.paths\[0\]: environment variable CURATE_I14_UNSET is not set"
    ):
        load_recipe(p)
    monkeypatch.setenv("CURATE_I14_UNSET", "")  # set but empty: the same (it would make "/books/*.txt")
    with pytest.raises(RecipeError, match="CURATE_I14_UNSET"):
        load_recipe(p)


def test_relative_paths_resolve_against_the_recipe_directory(corpus: Path, tmp_path: Path, monkeypatch) -> None:
    d = tmp_path / "project" / "conf"
    (d / "books").mkdir(parents=True)
    shutil.copy(corpus / "books" / "pg84.txt", d / "books" / "pg84.txt")
    (d / "r.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "rel",
                "workers": 0,
                "sources": [
                    {
                        "name": "b",
                        "kind": "books",
                        "format": "text",
                        "paths": ["books/*.txt", "${CURATE_I14_X:-books}/pg84.txt"],
                    }
                ],
            }
        )
    )
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


@pytest.mark.parametrize(
    "stage,key,value,message",
    [
        ("dedup", "threshold", 0, r"stages\[0\]\.dedup\.threshold: 0\.0 is out of range \(must be > 0 and <= 1\)"),
        ("dedup", "threshold", 1.01, r"stages\[0\]\.dedup\.threshold: 1\.01 is out of range"),
        (
            "mix",
            "weights",
            {"books": -0.5},
            r"stages\[0\]\.mix\.weights\.books: -0\.5 is out of range \(must be >= 0\)",
        ),
        ("mix", "weights", {"books": float("inf")}, r"stages\[0\]\.mix\.weights\.books: expected a finite number"),
        ("mix", "weights", {"books": float("nan")}, r"stages\[0\]\.mix\.weights\.books: expected a finite number"),
        (
            "tokenize",
            "vocab_size",
            200,
            r"stages\[0\]\.tokenize\.vocab_size: 200 is out of range \(must be >= 261 and "
            r"<= 2147483647\)",
        ),
        ("quality", "alpha", -1, r"stages\[0\]\.quality\.alpha: -1\.0 is out of range"),
        ("extract", "timeout_s", -5, r"stages\[0\]\.extract\.timeout_s: -5\.0 is out of range"),
    ],
)
def test_numbers_are_range_checked_by_key(corpus: Path, stage: str, key: str, value, message: str) -> None:
    cfg = {key: value} if stage != "mix" else {"weights": value}
    with pytest.raises(RecipeError, match=message):
        Pipeline.from_dict(books_recipe(corpus, stages=[{stage: cfg}]))


def test_workers_and_reader_options_are_range_checked(corpus: Path) -> None:
    with pytest.raises(RecipeError, match=r"^workers: -1 is out of range"):
        Pipeline.from_dict(books_recipe(corpus, workers=-1))
    with pytest.raises(RecipeError, match=r"^seed: -3 is out of range"):
        Pipeline.from_dict(books_recipe(corpus, seed=-3))
    r = books_recipe(corpus)
    r["sources"][0]["options"] = {"max_bytes": 0}
    with pytest.raises(RecipeError, match=r"sources\[0\]\.options\.max_bytes: 0 is out of range"):
        Pipeline.from_dict(r)
    assert cli.main(["run", str(REPO / "recipes" / "gpt3mix.yaml"), "--workers", "-2"]) == 2
