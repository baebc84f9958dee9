"""Decontamination against the ablation's evaluation set: planted 13-gram overlaps with held-out book text
are found in real web documents (dropped, or cut with a margin), clean documents are untouched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.ablate.holdout import extract_eval_unit
from curate.filters.decontaminate import DecontaminateStage, tokens
from curate.pipeline import Pipeline
from curate.recipe import RecipeError
from curate.registry import reader_class
from curate.schema import docs_table

SEED, SHARE, CHUNK = 7, 0.05, 4000
BOOKS = ("pg84.txt", "11-0.txt", "2852-0.txt")


def web_docs(corpus: Path, n: int = 40) -> list[dict]:
    """Real web main texts of the dedup set (originals only: no near-copy of another document)."""
    web = {
        json.loads(line)["id"]
        for line in (corpus / "dedup" / "sources.jsonl").read_text().splitlines()
        if json.loads(line)["source"].get("corpus") == "web" and json.loads(line)["kind"] == "original"
    }
    docs = [json.loads(line) for line in (corpus / "dedup" / "docs.jsonl").read_text().splitlines()]
    return [d for d in docs if d["id"] in web and len(d["text"].split("\n\n")) >= 3][:n]


@pytest.fixture(scope="module")
def eval_set(corpus, tmp_path_factory) -> Path:
    """The ablation's evaluation file for three books, written by the ablation's own code."""
    out = tmp_path_factory.mktemp("eval") / "books.jsonl"
    cls = reader_class("text")
    reader = cls("books", "books", cls.Config())
    units = reader.units([str(corpus / "books" / b) for b in BOOKS])
    parts = [out.with_name(f"part{i}.jsonl") for i in range(len(units))]
    for unit, part in zip(units, parts):
        extract_eval_unit((reader, unit, part), seed=SEED, share=SHARE, chunk_chars=CHUNK)
    out.write_text("".join(p.read_text() for p in parts))
    assert len(out.read_text().splitlines()) >= 5
    return out


def passages(eval_file: Path, words: int) -> list[str]:
    """Runs of ``words`` words from the evaluation chunks (single lines, so a planted run reads as prose)."""
    out = []
    for line in eval_file.read_text().splitlines():
        for para in json.loads(line)["text"].split("\n\n"):
            ws = para.split()
            if len(ws) >= words + 4:
                out.append(" ".join(ws[2 : 2 + words]))
    return out


def plant(docs: list[dict], runs: list[str], every: int = 2) -> tuple[list[dict], set[str]]:
    """Every ``every``-th document gets one run inserted between its first paragraphs (damaged real text)."""
    out, planted = [], set()
    for k, d in enumerate(docs):
        if k % every == 0:
            paras = d["text"].split("\n\n")
            d = dict(d, text="\n\n".join(paras[:1] + [runs[k % len(runs)]] + paras[1:]))
            planted.add(d["id"])
        out.append(d)
    return out, planted


def table(docs: list[dict]):
    return docs_table(
        {"id": d["id"], "source": "web", "kind": "web", "url": None, "text": d["text"], "meta": {}} for d in docs
    )


def fitted(stage: DecontaminateStage, tmp_path: Path) -> dict:
    from curate.stage import FitContext

    return stage.fit(FitContext([], tmp_path, SEED, lambda fn, items: [fn(x) for x in items], log=lambda m: None))


def test_drop_mode_finds_planted_overlaps_and_keeps_clean_documents(corpus, eval_set, tmp_path):
    docs, planted = plant(web_docs(corpus), passages(eval_set, 13))
    stage = DecontaminateStage(DecontaminateStage.Config(eval_files=[str(eval_set)]))
    r = stage.apply(table(docs), fitted(stage, tmp_path))
    assert set(r.dropped.column("id").to_pylist()) == planted and len(planted) >= 15
    assert set(r.dropped.column("reason").to_pylist()) == {"decontam:books"}
    clean = {d["id"]: d["text"] for d in docs if d["id"] not in planted}
    assert {i: t for i, t in zip(r.kept.column("id").to_pylist(), r.kept.column("text").to_pylist())} == clean
    assert r.counters["decontam_books_docs"] == len(planted) and r.counters["decontam_books_ngrams"] >= len(planted)


def test_normalisation_and_the_13_gram_boundary(corpus, eval_set, tmp_path):
    stage = DecontaminateStage(DecontaminateStage.Config(eval_files=[str(eval_set)]))
    state = fitted(stage, tmp_path)
    runs = passages(eval_set, 13)
    shouted = [re.sub(r"(\w+)", lambda m: m.group(1).upper() + ",", r) for r in runs]  # case and punctuation
    docs, planted = plant(web_docs(corpus, 10), shouted, every=1)
    assert stage.apply(table(docs), state).dropped.num_rows == len(planted) == 10
    short = [" ".join(r.split()[:12]) for r in runs]  # 12 words: no 13-gram in common
    docs, _ = plant(web_docs(corpus, 10), short, every=1)
    assert stage.apply(table(docs), state).dropped.num_rows == 0


def test_cut_mode_removes_the_span_with_its_margin_only(corpus, eval_set, tmp_path):
    runs = passages(eval_set, 30)
    docs, planted = plant(web_docs(corpus, 20), runs)
    stage = DecontaminateStage(DecontaminateStage.Config(eval_files=[str(eval_set)], mode="cut", margin=0))
    r = stage.apply(table(docs), fitted(stage, tmp_path))
    assert r.kept.num_rows == len(docs) and not r.dropped.num_rows
    originals = {d["id"]: d["text"] for d in web_docs(corpus, 20)}
    for did, text, meta in zip(*(r.kept.column(c).to_pylist() for c in ("id", "text", "meta"))):
        if did in planted:
            assert json.loads(meta)["decontam"]["books"] >= 18
            assert tokens(text)[2] == tokens(originals[did])[2]  # exactly the planted words are gone
        else:
            assert text == originals[did] and "decontam" not in json.loads(meta)
    wide = DecontaminateStage(DecontaminateStage.Config(eval_files=[str(eval_set)], mode="cut", margin=200))
    r = wide.apply(table(docs), fitted(wide, tmp_path))
    cut = r.counters["decontam_chars_cut"]
    assert cut >= sum(len(x) for x in runs[: len(planted)]) + 200 * len(planted)


def test_holdout_sources_in_a_run_decontaminate_against_the_ablation_eval_set(corpus, eval_set, tmp_path):
    """``holdout_sources`` recomputes the ablation's held-out text from the run's own book documents: the
    planted web documents and the books' held-out chunks are cut; the counts are per evaluation set."""
    docs, planted = plant(web_docs(corpus, 20), passages(eval_set, 40))
    web = tmp_path / "web.jsonl"
    web.write_text("".join(json.dumps(d) + "\n" for d in docs))
    raw = {
        "name": "dc",
        "seed": SEED,
        "workers": 0,
        "sources": [
            {"name": "books", "kind": "books", "format": "text", "paths": [str(corpus / "books" / b) for b in BOOKS]},
            {"name": "web", "kind": "web", "format": "jsonl", "paths": [str(web)], "options": {"id_field": "id"}},
        ],
        "stages": [
            {
                "decontaminate": {
                    "holdout_sources": ["books"],
                    "holdout_share": SHARE,
                    "holdout_chunk_chars": CHUNK,
                    "mode": "cut",
                    "max_pieces": 0,
                }
            }
        ],
    }
    s = Pipeline.from_dict(raw).run(out=tmp_path / "r", log=lambda m: None)["stages"][1]
    assert s["reconciles"] and s["fit"]["ngrams"]["holdout"] > 1000
    assert s["counters"]["decontam_holdout_docs"] == len(planted) + len(BOOKS)
    kept = pq.read_table(tmp_path / "r" / "stages" / "01_decontaminate").to_pylist()
    held = [json.loads(line)["text"] for line in eval_set.read_text().splitlines()]
    for d in kept:
        assert not any(chunk[:300] in d["text"] for chunk in held if len(chunk) > 300)
    with pytest.raises(RecipeError, match=r"stages\[0\]\.decontaminate\.holdout_sources: 'bookz' is not a source"):
        Pipeline.from_dict(dict(raw, stages=[{"decontaminate": {"holdout_sources": ["bookz"]}}]))
    with pytest.raises(RecipeError, match=r"stages\[0\]\.decontaminate: eval_files\[0\]: no such file"):
        Pipeline.from_dict(dict(raw, stages=[{"decontaminate": {"eval_files": [str(tmp_path / "none.jsonl")]}}]))


def test_an_ablation_variant_decontaminates_against_its_eval_files(tmp_path):
    """In an ablation the holdout stage has cut the held-out chunks already: holdout_sources become the
    ablation's eval/ files, so the variant removes overlaps with exactly what it is evaluated on."""
    from curate.ablate.variants import build_recipe

    base = {"name": "b", "sources": [{"name": "wiki", "kind": "wiki", "format": "mediawiki", "paths": ["x"]}]}
    stages = [{"decontaminate": {"holdout_sources": ["wiki"], "holdout_share": 0.5, "mode": "cut"}}, {"mix": {}}]
    raw = build_recipe(
        base, stages, {"share": 0.02, "chunk_chars": 4000}, ["wiki", "books"], None, None, tmp_path / "eval"
    )
    assert raw["stages"][0] == {"holdout": {"share": 0.02, "chunk_chars": 4000}, "only": ["wiki", "books"]}
    assert raw["stages"][1] == {
        "decontaminate": {
            "mode": "cut",
            "eval_files": [str(tmp_path / "eval" / "wiki.jsonl"), str(tmp_path / "eval" / "books.jsonl")],
        }
    }
    assert stages[0]["decontaminate"]["holdout_sources"] == ["wiki"]  # the base recipe is not changed
