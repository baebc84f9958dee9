"""A run asking for Ray workers on a small input goes in-process and says so; a larger one starts Ray."""

import pytest

import curate.executor as ex
import curate.headstart as headstart
from curate.pipeline import Pipeline
from curate.recipe import RecipeError
from curate.smalljob import ENV, workers_for


def recipe(corpus) -> dict:
    return {
        "name": "t",
        "seed": 1,
        "workers": 2,
        "sources": [
            {
                "name": "docs",
                "kind": "web",
                "format": "documents-jsonl",
                "paths": [str(corpus / "dedup" / "docs.jsonl")],
            }
        ],
        "stages": [{"heuristics": {}}],
    }


@pytest.fixture
def ray_calls(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    started: list[int] = []

    def fake_ray(workers, log=None):
        started.append(workers)
        return ex.LocalExecutor()  # the run itself proceeds in-process either way

    monkeypatch.setattr(ex, "RayExecutor", fake_ray)
    monkeypatch.setattr(headstart, "StartingExecutor", fake_ray)  # the embedded head started beside planning
    return started


def test_small_input_runs_in_process_and_says_so(corpus, tmp_path, monkeypatch, ray_calls):
    monkeypatch.delenv(ENV, raising=False)
    logs: list[str] = []
    s = Pipeline.from_dict(recipe(corpus)).run(out=tmp_path / "r", log=logs.append)
    assert s["reconciles"] and s["stages"][1]["dropped"] and ray_calls == []
    mb = (corpus / "dedup" / "docs.jsonl").stat().st_size / 1e6
    line = next(m for m in logs if m.startswith("workers: running in-process"))
    assert f"instead of 2 Ray worker(s): the input ({mb:.1f} MB) is under 16 MB" in line and f"{ENV}=0" in line


def test_input_over_the_size_or_size_zero_starts_ray(corpus, tmp_path, monkeypatch, ray_calls):
    r = recipe(corpus)
    monkeypatch.setenv(ENV, "1")  # the 1.6 MB input is over 1 MB
    Pipeline.from_dict(r).run(out=tmp_path / "a", log=lambda m: None)
    monkeypatch.setenv(ENV, "0")
    Pipeline.from_dict(r).run(out=tmp_path / "b", log=lambda m: None)
    assert ray_calls == [2, 2]
    assert workers_for(Pipeline.from_dict(dict(r, workers=0)).recipe, 0) == (0, None)


@pytest.mark.parametrize("bad", ["many", "-1", "nan", "inf"])
def test_bad_size_is_a_one_line_error_naming_the_variable(corpus, monkeypatch, bad):
    monkeypatch.setenv(ENV, bad)
    with pytest.raises(RecipeError, match=f"^{ENV}: '{bad}' is not a size in MB"):
        workers_for(Pipeline.from_dict(recipe(corpus)).recipe, 2)
