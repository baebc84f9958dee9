"""The generic runner: accounting, resume, recompute on a changed recipe, determinism across workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.pipeline import Pipeline
from curate.recipe import RecipeError
from tests import REPO

pytestmark = pytest.mark.usefixtures("engine_components")


def recipe(corpus: Path, min_chars: int = 1000) -> dict:
    return {
        "name": "t",
        "seed": 1,
        "workers": 0,
        "sources": [
            {
                "name": "docs",
                "kind": "web",
                "format": "test_lines",
                "paths": [str(corpus / "dedup" / "docs.jsonl")],
                "options": {"lines_per_unit": 50},
            }
        ],
        "stages": [{"test_min_length": {"min_chars": min_chars}}, {"test_drop_longest": {"n": 3}}],
    }


def outputs(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.glob("stages/*/part-*.parquet"))}


def test_accounting_reconciles_and_drops_are_inspectable(corpus, tmp_path):
    s = Pipeline.from_dict(recipe(corpus)).run(out=tmp_path / "r", log=lambda m: None)
    assert s["reconciles"]
    read, short, longest = s["stages"]
    assert read["in"] == 400 and read["kept"] == 400 and read["parts"] == 8
    assert short["in"] == 400 and short["kept"] + short["dropped"]["length:short"] == 400
    assert longest["dropped"] == {"longest": 3} and longest["in"] == short["kept"]
    assert longest["fit"]["longest"][0] >= longest["fit"]["longest"][1]
    dropped = pq.read_table(tmp_path / "r" / "dropped" / "01_test_min_length").to_pylist()
    assert len(dropped) == short["dropped"]["length:short"]
    assert all(d["reason"] == "length:short" and len(d["text"]) < 1000 for d in dropped)
    on_disk = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert on_disk["stages"][1]["kept"] == short["kept"]


@pytest.mark.parametrize(
    "keep_intermediate, reused_after_change",
    [
        (True, [True, False, False]),  # every step materialised: the reader's parts are reused
        (False, [False, False, False]),  # read and min-length run fused: a change to min-length re-reads
    ],
)
def test_resume_skips_completed_work_and_changed_config_recomputes_from_that_stage(
    corpus, tmp_path, keep_intermediate, reused_after_change
):
    out = tmp_path / "r"
    r = dict(recipe(corpus), keep_intermediate=keep_intermediate)
    Pipeline.from_dict(r).run(out=out, log=lambda m: None)
    first = outputs(out)
    s = Pipeline.from_dict(r).run(out=out, log=lambda m: None)
    assert all(st.get("reused") for st in s["stages"])
    changed = dict(recipe(corpus, min_chars=2000), keep_intermediate=keep_intermediate)
    s = Pipeline.from_dict(changed).run(out=out, log=lambda m: None)
    assert [bool(st.get("reused")) for st in s["stages"]] == reused_after_change
    assert outputs(out) != first
    s = Pipeline.from_dict(r).run(out=out, log=lambda m: None)
    assert outputs(out) == first


def test_killed_run_resumes_to_identical_outputs(corpus, tmp_path):
    clean = tmp_path / "clean"
    Pipeline.from_dict(recipe(corpus)).run(out=clean, log=lambda m: None)
    # Kill the process (os._exit) while the min-length stage processes its 5th part, then re-run.
    fifth = [json.loads(l)["id"] for l in open(corpus / "dedup" / "docs.jsonl")][200]
    flag = tmp_path / "crash"
    flag.write_text(fifth)
    rfile = tmp_path / "recipe.json"
    rfile.write_text(json.dumps(recipe(corpus)))
    code = (
        "import json,sys; from curate import registry; from curate.pipeline import Pipeline;"
        "registry.READERS['test_lines']='tests.support.engine:LinesReader';"
        "registry.STAGES['test_min_length']='tests.support.engine:MinLength';"
        "registry.STAGES['test_drop_longest']='tests.support.engine:DropLongest';"
        f"Pipeline.from_dict(json.load(open({str(rfile)!r}))).run(out={str(tmp_path / 'killed')!r})"
    )
    env = dict(os.environ, CURATE_TEST_CRASH_FILE=str(flag), PYTHONPATH=str(REPO))
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert p.returncode == 9, p.stderr
    done = sorted((tmp_path / "killed" / "stages" / "01_test_min_length").glob("part-*.parquet"))
    assert 0 < len(done) < 8  # it really stopped midway
    flag.unlink()
    s = Pipeline.from_dict(recipe(corpus)).run(out=tmp_path / "killed", log=lambda m: None)
    assert 0 < s["stages"][0]["resumed_parts"] < 8 and s["reconciles"]  # finished parts were not redone
    assert outputs(tmp_path / "killed") == outputs(clean)


def test_ray_and_in_process_runs_are_identical(corpus, tmp_path):
    r = recipe(corpus)
    Pipeline.from_dict(r).run(out=tmp_path / "local", log=lambda m: None)
    Pipeline.from_dict(dict(r, workers=2)).run(out=tmp_path / "ray", log=lambda m: None)
    assert outputs(tmp_path / "local") == outputs(tmp_path / "ray")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.update(stagez=[]), "unknown key 'stagez' (did you mean 'stages'?); allowed keys:"),
        (
            lambda r: r["stages"].append({"no_such_stage": {}}),
            "stages[2]: unknown stage 'no_such_stage'; allowed stages:",
        ),
        (
            lambda r: r["stages"][0]["test_min_length"].update(min_char=3),
            "stages[0].test_min_length: unknown key 'min_char' (did you mean 'min_chars'?); allowed keys: min_chars",
        ),
        (
            lambda r: r["stages"][0]["test_min_length"].update(min_chars="many"),
            "stages[0].test_min_length.min_chars: expected an integer",
        ),
        (lambda r: r["sources"][0].update(format="tar"), "sources[0].format: unknown reader format 'tar'"),
        (lambda r: r["sources"][0].pop("paths"), "sources[0]: missing required key 'paths'"),
    ],
)
def test_recipe_errors_name_the_key(corpus, mutate, message):
    r = recipe(corpus)
    mutate(r)
    with pytest.raises(RecipeError) as e:
        Pipeline.from_dict(r)
    assert message in str(e.value)


def test_missing_input_path_is_a_clear_error(corpus, tmp_path):
    r = recipe(corpus)
    r["sources"][0]["paths"] = [str(tmp_path / "nope.jsonl")]
    with pytest.raises(RecipeError, match=r"sources\[0\] \(docs\).paths: input path does not exist"):
        Pipeline.from_dict(r).run(out=tmp_path / "r", log=lambda m: None)


def test_set_overrides_address_sources_and_stages_by_name():
    from curate.recipe import load_recipe

    r = load_recipe(
        REPO / "recipes" / "gpt3mix.yaml",
        ['sources.web.paths=["s3://bucket/crawl/*.warc.gz"]', "stages.dedup.threshold=0.7", "seed=9"],
    )
    assert r.sources[0].paths == ["s3://bucket/crawl/*.warc.gz"] and r.seed == 9
    assert next(s for s in r.stages if s.stage == "dedup").config["threshold"] == 0.7
    with pytest.raises(
        RecipeError,
        match=r"stages\[9\].dedup: unknown key 'treshold' \(did you mean 'threshold'\?\); allowed keys: bands",
    ):
        load_recipe(REPO / "recipes" / "gpt3mix.yaml", ["stages.dedup.treshold=0.7"])
