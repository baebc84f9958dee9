"""What the runner refuses or repairs before and during a run: a missing model file, an --out the inputs
reach, more workers than CPUs, damaged bookkeeping in _state, a source that yields no document.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from curate.pipeline import Pipeline
from curate.recipe import RecipeError
from tests.support.recipes import QUIET, books_recipe


def test_a_source_without_documents_is_named_in_the_summary(corpus: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.txt").write_bytes(b"")
    (empty / "b.txt").write_bytes((corpus / "web" / "pages.warc.gz").read_bytes()[:4096])  # binary
    r = books_recipe(corpus)
    r["sources"].append({"name": "blank", "kind": "books", "format": "text", "paths": [str(empty / "*.txt")]})
    logs: list[str] = []
    summary = Pipeline.from_dict(r).run(out=tmp_path / "run", workers=0, log=logs.append)
    read = summary["stages"][0]
    assert read["sources_without_documents"] == ["blank"] and read["by_source"]["blank"]["dropped"] == 2
    assert any("'blank' matched input files but yielded no document" in m for m in logs)


def test_a_missing_model_file_fails_before_any_work(corpus: Path, tmp_path: Path) -> None:
    r = books_recipe(corpus, [{"dedup_exact": {}}, {"langid": {"model": str(tmp_path / "lid.ftz")}}])
    with pytest.raises(RecipeError, match=r"stages\[1\]\.langid\.model: no such file"):
        Pipeline.from_dict(r).run(out=tmp_path / "run", **QUIET)
    assert not (tmp_path / "run" / "stages").exists()


def test_an_out_the_inputs_reach_is_refused(corpus: Path, tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "pg84.txt").write_bytes((corpus / "books" / "pg84.txt").read_bytes())
    for paths in ([str(books)], [str(books / "**" / "*.txt")], [str(books / "*")]):
        r = books_recipe(corpus)
        r["sources"][0]["paths"] = paths
        with pytest.raises(RecipeError, match=r"sources\[0\] \(books\)\.paths: .* reaches the output directory"):
            Pipeline.from_dict(r).run(out=books / "run", **QUIET)
    r["sources"][0]["paths"] = [str(books / "*.txt")]  # a glob that cannot match the run's files is fine
    assert Pipeline.from_dict(r).run(out=books / "run", **QUIET)["stages"][0]["kept"] == 1


def test_damaged_bookkeeping_is_redone_not_a_crash(corpus: Path, tmp_path: Path) -> None:
    r = books_recipe(corpus, [{"dedup_exact": {}}])
    run = tmp_path / "run"
    Pipeline.from_dict(r).run(out=run, **QUIET)
    parts = {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.glob("*/*/part-*.parquet"))}
    state = sorted(p for p in (run / "_state").rglob("*") if p.is_file() and p.suffix in (".json", ".pkl"))
    assert any(p.name == "_SUCCESS.json" for p in state) and any(p.parent.name == "parts" for p in state)
    for f in state:  # each file cut in half (a crash of the machine, an editor), or made a foreign value
        f.write_bytes(
            f.read_bytes()[: f.stat().st_size // 2]
            if f.suffix == ".pkl" or "parts" in str(f)
            else json.dumps([1, 2]).encode()
        )
    s = Pipeline.from_dict(r).run(out=run, **QUIET)
    assert s["reconciles"] and s["stages"][0]["kept"] == 2
    assert {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.glob("*/*/part-*.parquet"))} == parts


def test_huge_workers_are_capped_at_the_machines_cpus(monkeypatch) -> None:
    import curate.executor as ex

    started: list[int] = []
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ex, "RayExecutor", lambda workers: started.append(workers) or workers)
    logs: list[str] = []
    cpus = len(os.sched_getaffinity(0))
    assert ex.make_executor(10**9, logs.append) == cpus and started == [cpus]
    assert logs == [f"workers: {10**9} is more than the {cpus} CPUs of this machine; using {cpus}"]
    assert ex.make_executor(1, logs.append) == 1 and len(logs) == 1
