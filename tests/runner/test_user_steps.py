"""User steps (curate.steps): a filter and a mapper written outside the package, run from a YAML recipe and
from a Python-composed Pipeline on Ray, with accounting, resume, and a code change recomputing its step only."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from curate.pipeline import Pipeline
from curate.recipe import RecipeError, bounds
from curate.schema import docs_table
from curate.steps import DocFilter, DocMapper, FnFilter, FnMapper, function_digest
from tests import REPO

QUIET = {"log": lambda m: None}


class FewWords(DocFilter):
    """A user filter, defined here, outside the package: drops documents under ``min_words`` words."""

    @dataclass
    class Config:
        min_words: int = field(default=300, metadata=bounds(ge=1))

    def keep(self, doc: dict) -> bool | str:
        return len(doc["text"].split()) >= self.config.min_words or f"under_{self.config.min_words}_words"


class Fragile(DocFilter):
    """Raises on documents that mention a word: the row errors, the batch goes on."""

    def keep(self, doc: dict) -> bool | str:
        if "Neanderthal" in doc["text"]:
            raise ValueError("no")
        return True


def source(corpus: Path) -> dict:
    return {
        "name": "docs",
        "kind": "web",
        "format": "jsonl",
        "paths": [str(corpus / "dedup" / "docs.jsonl")],
        "options": {"id_field": "id"},
    }


def real_docs(corpus: Path, n: int = 60) -> pa.Table:
    rows = [json.loads(line) for line in (corpus / "dedup" / "docs.jsonl").read_text().splitlines()[:n]]
    return docs_table(
        {"id": r["id"], "source": "docs", "kind": "web", "url": None, "text": r["text"], "meta": {"n": i}}
        for i, r in enumerate(rows)
    )


def stages_of(summary: dict) -> dict[str, dict]:
    return {s["dir"]: s for s in summary["stages"]}


# ---------------------------------------------------------------- the step classes on real text


def test_filter_keeps_drops_and_errors_every_row_with_a_reason(corpus):
    batch = real_docs(corpus)
    r = FewWords(FewWords.Config(min_words=300)).apply(batch, None)
    words = {d["id"]: len(d["text"].split()) for d in batch.to_pylist()}
    assert r.kept.num_rows + r.dropped.num_rows == batch.num_rows and r.kept.num_rows and r.dropped.num_rows
    assert all(words[i] >= 300 for i in r.kept.column("id").to_pylist())
    assert set(r.dropped.column("reason").to_pylist()) == {"fewwords:under_300_words"}
    r = Fragile().apply(batch, None)
    hit = sum("Neanderthal" in t for t in batch.column("text").to_pylist())
    assert hit and r.errors.num_rows == hit and r.kept.num_rows == batch.num_rows - hit
    assert set(r.errors.column("reason").to_pylist()) == {"error:ValueError"}


def test_batch_variants_and_mapper_keep_rows_in_order(corpus):
    batch = real_docs(corpus, 40)

    class LongBatch(DocFilter):
        name = "long"

        def keep_batch(self, b: pa.Table) -> list[bool | str]:
            return [len(t) > 3000 or "short" for t in b.column("text").to_pylist()]

    r = LongBatch().apply(batch, None)
    assert r.dropped.num_rows and set(r.dropped.column("reason").to_pylist()) == {"long:short"}
    assert all(len(t) > 3000 for t in r.kept.column("text").to_pylist())

    class FirstLine(DocMapper):
        def map(self, doc: dict) -> dict:
            if doc["meta"]["n"] == 3:
                return {"text": None}  # not a string: that row errors
            return dict(doc, text=doc["text"].split("\n")[0], meta=dict(doc["meta"], mapped=True))

    r = FirstLine().apply(batch, None)
    assert r.errors.num_rows == 1 and r.errors.column("reason").to_pylist() == ["error:TypeError"]
    want = [d["text"].split("\n")[0] for d in batch.to_pylist() if json.loads(d["meta"])["n"] != 3]
    assert r.kept.column("text").to_pylist() == want
    assert all(json.loads(m)["mapped"] for m in r.kept.column("meta").to_pylist())

    class Upper(DocMapper):
        def map_batch(self, b: pa.Table) -> pa.Table:
            return b.set_column(b.schema.get_field_index("text"), "text", pc.utf8_upper(b.column("text")))

    r = Upper().apply(batch, None)
    assert r.kept.column("text") == pc.utf8_upper(batch.column("text")) and r.kept.column("id") == batch.column("id")


def test_function_steps_key_on_their_code():
    a, b = (lambda doc: len(doc["text"]) > 10), (lambda doc: len(doc["text"]) > 20)
    assert function_digest(a) != function_digest(b)
    assert FnFilter(a, name="x").code_digest() != FnFilter(b, name="x").code_digest()


# ---------------------------------------------------------------- recipes naming user steps


def test_recipe_errors_name_the_key(corpus):
    def load(stage_entry):
        return Pipeline.from_dict({"name": "u", "workers": 0, "sources": [source(corpus)], "stages": [stage_entry]})

    with pytest.raises(
        RecipeError, match=r"stages\[0\]\.tests\.runner\.test_user_steps:FewWords\.min_words: 0 is out of range"
    ):
        load({"stage": "tests.runner.test_user_steps:FewWords", "config": {"min_words": 0}})
    with pytest.raises(
        RecipeError, match=r"stages\[0\]\.tests\.runner\.test_user_steps:FewWords: unknown key 'min_wrds'"
    ):
        load({"tests.runner.test_user_steps:FewWords": {"min_wrds": 3}})
    with pytest.raises(RecipeError, match=r"stages\[0\]: cannot import 'tests\.no_such_module'"):
        load({"stage": "tests.no_such_module:F"})
    with pytest.raises(RecipeError, match=r"stages\[0\]: tests\.runner\.test_user_steps:source is not a stage class"):
        load({"stage": "tests.runner.test_user_steps:source"})
    with pytest.raises(RecipeError, match=r"stages\[0\]: unknown key 'confg' beside `stage:`"):
        load({"stage": "tests.runner.test_user_steps:FewWords", "confg": {}})


def test_yaml_recipe_on_ray_accounting_resume_and_code_change_recomputes_that_step_only(corpus, tmp_path, monkeypatch):
    # a user module in a folder of its own (a copy of the example), edited between runs
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    shutil.copy(REPO / "examples" / "user_steps.py", pkg / "mysteps.py")
    monkeypatch.syspath_prepend(str(pkg))
    monkeypatch.delitem(sys.modules, "mysteps", raising=False)
    recipe = tmp_path / "user.yaml"
    recipe.write_text(f"""name: user
workers: 2
keep_intermediate: true
sources:
  - {{name: docs, kind: web, format: jsonl, paths: ["{corpus}/dedup/docs.jsonl"], options: {{id_field: id}}}}
stages:
  - stage: tests.runner.test_user_steps:FewWords
    config: {{min_words: 100}}
  - mysteps:CollapseBlankLines
""")
    out = tmp_path / "run"
    first = stages_of(Pipeline.from_recipe(recipe).run(out=out, **QUIET))
    few, blank = first["01_fewwords"], first["02_collapseblanklines"]
    assert few["in"] == 400 and few["reconciles"] and few["dropped"] == {"fewwords:under_100_words": 400 - few["kept"]}
    assert 0 < few["kept"] < 400 and blank["in"] == few["kept"] == blank["kept"]
    dropped = pq.read_table(out / "dropped" / "01_fewwords").to_pylist()
    assert len(dropped) == 400 - few["kept"] and all(len(d["text"].split()) < 100 for d in dropped)
    kept = pq.read_table(out / "stages" / "02_collapseblanklines").to_pylist()
    assert all("\n\n\n" not in d["text"] for d in kept)
    assert sum(json.loads(d["meta"])["blank_runs"] for d in kept) > 0

    again = Pipeline.from_recipe(recipe).run(out=out, workers=0, **QUIET)  # resume (in-process): nothing to redo
    assert all(s.get("reused") for s in again["stages"])

    code = (pkg / "mysteps.py").read_text()
    (pkg / "mysteps.py").write_text(code.replace('re.compile(r"\\n{3,}")', 're.compile(r"\\n{4,}")'))
    importlib.reload(sys.modules["mysteps"])
    changed = stages_of(Pipeline.from_recipe(recipe).run(out=out, **QUIET))
    assert [bool(s.get("reused")) for s in changed.values()] == [True, True, False]
    assert changed["02_collapseblanklines"]["kept"] == few["kept"]
    kept2 = pq.read_table(out / "stages" / "02_collapseblanklines").to_pylist()
    assert sum(json.loads(d["meta"])["blank_runs"] for d in kept2) < sum(
        json.loads(d["meta"])["blank_runs"] for d in kept
    )


def test_python_composed_pipeline_on_ray_matches_in_process(corpus, tmp_path):
    def pipeline(workers: int) -> Pipeline:
        return Pipeline(
            name="composed",
            workers=workers,
            sources=[source(corpus)],
            stages=[
                FewWords(FewWords.Config(min_words=300)),
                FnMapper(lambda doc: dict(doc, text=doc["text"].strip()), name="strip"),
                {"stage": "tests.runner.test_user_steps:Fragile"},
            ],
        )

    ray = pipeline(2).run(out=tmp_path / "ray", **QUIET)
    pipeline(0).run(out=tmp_path / "local", **QUIET)
    s = stages_of(ray)
    assert ray["reconciles"] and list(s) == ["00_read", "01_fewwords", "02_strip", "03_fragile"]
    assert s["03_fragile"]["errors"] == {"error:ValueError": s["02_strip"]["kept"] - s["03_fragile"]["kept"]}
    assert s["03_fragile"]["errors"]
    for d in ("stages/03_fragile", "dropped/01_fewwords", "errors/03_fragile"):
        assert pq.read_table(tmp_path / "ray" / d) == pq.read_table(tmp_path / "local" / d)
    assert all(x.get("reused") for x in pipeline(0).run(out=tmp_path / "ray", **QUIET)["stages"])


def test_composed_stage_errors_name_their_place(corpus):
    with pytest.raises(RecipeError, match=r"stages\[1\]\.dedup\.threshold: 2\.0 is out of range"):
        Pipeline(sources=[source(corpus)], stages=[FewWords(), {"dedup": {"threshold": 2.0}}])
    with pytest.raises(RecipeError, match=r"stages\[0\]: FewWords is a class; give an object, e.g. FewWords\(\)"):
        Pipeline(sources=[source(corpus)], stages=[FewWords])


def test_a_step_that_cannot_reach_ray_workers_is_refused_by_name(corpus, tmp_path):
    lock = threading.Lock()
    p = Pipeline(
        name="lam",
        workers=2,
        sources=[source(corpus)],
        stages=[FnFilter(lambda doc: lock.locked() or len(doc["text"]) > 500, name="locked")],
    )
    with pytest.raises(RecipeError, match=r"stages\[0\] \(locked\): cannot be sent to Ray workers.*workers=0"):
        p.run(out=tmp_path / "r", **QUIET)
    s = stages_of(p.run(out=tmp_path / "r", workers=0, **QUIET))  # in-process, the same step runs
    assert s["01_locked"]["reconciles"] and s["01_locked"]["dropped"] == {
        "locked:rejected": 400 - s["01_locked"]["kept"]
    }
