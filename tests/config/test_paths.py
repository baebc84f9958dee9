"""One path rule. A path written in a recipe resolves against that recipe file's folder (whatever
the folder's name: no special case for ``recipes/``); a path from the command line or the environment
(``--set``, ``CURATE_INPUT``, ``CURATE_DATA``) resolves against the working directory; the shipped recipes read
the sample corpus from ``${CURATE_DATA}``, by default the folder ``curate sample`` builds, and say so when it
is missing. ``Pipeline.from_recipe`` takes what ``curate run`` takes. Inputs: a real book of the corpus.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from curate.pipeline import Pipeline
from curate.recipe import RecipeError, load_recipe


@pytest.fixture
def project(corpus: Path, tmp_path: Path, monkeypatch) -> Path:
    """proj/recipes/r.yaml reading ../data/*.txt, a real book in proj/data; the working directory elsewhere."""
    (tmp_path / "proj" / "recipes").mkdir(parents=True)
    (tmp_path / "proj" / "data").mkdir()
    shutil.copy(corpus / "books" / "pg84.txt", tmp_path / "proj" / "data" / "pg84.txt")
    (tmp_path / "proj" / "recipes" / "r.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "r",
                "workers": 0,
                "sources": [
                    {
                        "name": "b",
                        "kind": "books",
                        "format": "text",
                        "paths": ["../data/*.txt", "${CURATE_T23:-../data}/x"],
                    }
                ],
            }
        )
    )
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.delenv("CURATE_T23", raising=False)
    return tmp_path / "proj"


def test_a_recipe_path_resolves_against_the_recipe_folder_even_in_recipes(project: Path) -> None:
    r = load_recipe(project / "recipes" / "r.yaml")
    assert r.sources[0].paths == [str(project / "data" / "*.txt"), str(project / "data" / "x")]  # the default too
    p = Pipeline.from_recipe(str(project / "recipes" / "r.yaml"), ["sources.b.paths=[../data/*.txt]"])
    assert p.recipe.sources[0].paths == [str(project.parent / "data" / "*.txt")]  # a --set path: from the cwd


def test_command_line_and_environment_paths_resolve_against_the_working_directory(project: Path, monkeypatch) -> None:
    cwd = Path.cwd()
    monkeypatch.setenv("CURATE_T23", "mine")
    r = load_recipe(project / "recipes" / "r.yaml")
    assert r.sources[0].paths[1] == str(cwd / "mine" / "x")  # a set variable: where the user is
    r = load_recipe(
        project / "recipes" / "r.yaml",
        ["sources.b.paths=books/*.txt", "tokenizer=tok/sp.model", "stages=[{tokenize: {}}]"],
    )
    assert r.sources[0].paths == [str(cwd / "books" / "*.txt")]
    assert r.stages[0].config["model"] == str(cwd / "tok" / "sp.model")
    r = load_recipe(project / "recipes" / "r.yaml", ["stages=[{tokenize: {}}]", "stages.0.tokenize.model=m.model"])
    assert r.stages[0].config["model"] == str(cwd / "m.model")  # a stage's path field set on the command line


def test_shipped_recipes_read_the_sample_folder_and_say_how_to_build_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CURATE_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    p = Pipeline.from_recipe("gpt3mix")  # a shipped name, as `curate run gpt3mix` takes it
    assert p.recipe.sources[0].paths == [str(tmp_path / "xdg" / "curate" / "sample" / "web" / "*.warc.gz")]
    with pytest.raises(
        RecipeError,
        match=r"no input file matches .*the sample corpus is not built: run `curate "
        r"sample` \(in a checkout: `make sample`\)",
    ):
        p.run(out=tmp_path / "run", workers=0, log=lambda m: None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CURATE_DATA", "data")
    wiki = Pipeline.from_recipe("gpt3mix.yaml").recipe.sources[1].paths
    assert wiki == [str(tmp_path / "data" / "wiki" / "*.xml.bz2")]  # CURATE_DATA from the working directory


def test_quickstart_input_and_unknown_names(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATE_INPUT", raising=False)
    with pytest.raises(RecipeError, match=r"environment variable CURATE_INPUT is not set"):
        Pipeline.from_recipe("quickstart")
    monkeypatch.setenv("CURATE_INPUT", "docs/*.jsonl.gz")
    assert Pipeline.from_recipe("quickstart").recipe.sources[0].paths == [str(tmp_path / "docs" / "*.jsonl.gz")]
    with pytest.raises(
        RecipeError,
        match=r"recipe 'gpt3': no such file, and no shipped recipe of that name "
        r"\(did you mean 'gpt3mix'\?\); shipped recipes: gpt3mix, "
        r"multilingual_web, quickstart",
    ):
        Pipeline.from_recipe("gpt3")
