"""Mixture planner: rates, epochs table, deterministic down/up-sampling, counts that reconcile."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.mix.planner import MixStage, estimate_tokens, plan_mix
from curate.schema import docs_table, meta_dicts
from curate.stage import FitContext
from curate.standalone import mix_files
from tests.support.docs import corpus_docs, write_parts

GPT3 = {"web": 0.6, "books": 0.16, "wiki": 0.03, "code": 0.21}  # code has no rows here
CFG = {"weights": GPT3, "target_tokens": 400_000, "max_epochs": 1.5}


def serial(fn, items):
    return [fn(x) for x in items]


def run_mix(parts: list[Path], tmp: Path, config: dict, seed: int = 7):
    stage = MixStage.from_dict(config)
    logs: list[str] = []
    ctx = FitContext(parts, tmp, seed, serial, log=logs.append)
    state = stage.fit(ctx)
    results = [stage.apply(pq.read_table(p), state) for p in parts]
    return state, results, logs


def test_plan_rates_epochs_and_default_budget() -> None:
    counts = {"web": [10, 4000], "books": [2, 2000], "wiki": [5, 400]}  # bytes -> 1000/500/100 tokens
    p = plan_mix(counts, {"web": 3, "books": 1, "wiki": 1}, target_tokens=2000, max_epochs=5.0)
    rows = {r["source"]: r for r in p.rows}
    assert rows["web"]["weight"] == pytest.approx(0.6) and rows["web"]["epochs"] == pytest.approx(1.2)
    assert rows["wiki"]["epochs"] == pytest.approx(4.0) and rows["books"]["epochs"] == pytest.approx(0.8)
    assert not p.warnings
    # default budget: the whole corpus (1600) unless a source would exceed max_epochs
    assert plan_mix(counts, {"web": 3, "books": 1, "wiki": 1}, None, 10.0).target_tokens == 1600
    capped = plan_mix(counts, {"web": 3, "books": 1, "wiki": 1}, None, 2.0)
    assert capped.target_tokens == 1600 and capped.rates["wiki"] == pytest.approx(2.0)
    assert any("'wiki' needs 3.20 epochs" in w for w in capped.warnings)
    warn = plan_mix(counts, {"web": 1, "wiki": 1}, 4000, 10.0)
    assert any("'wiki' would be repeated 20.00 epochs" in w for w in warn.warnings)
    assert any("'books' has no weight" in w for w in warn.warnings)
    assert estimate_tokens(9) == 3


def test_mix_stage_on_corpus(corpus: Path, tmp_path: Path) -> None:
    rows = corpus_docs(corpus)
    parts = write_parts(rows, 3, tmp_path / "in")
    state, results, logs = run_mix(parts, tmp_path, CFG)
    table = state["summary"]["table_text"]
    assert "epochs" in table and "est. tokens" in table and all(s in table for s in ("web", "books", "wiki"))
    assert any("'code' has weight" in line for line in logs)  # no code rows: weight redistributed
    assert any("would be repeated" in line for line in logs)  # books: 1.65 epochs > 1.5
    rates = state["rates"]
    assert rates["wiki"] < 1 < rates["books"]  # wiki down-sampled, books up-sampled at this budget
    kept = [r for res in results for r in res.kept.to_pylist()]
    dropped = [r for res in results for r in res.dropped.to_pylist()]
    assert len(kept) + len(dropped) == len(rows)
    assert {d["reason"] for d in dropped} == {"mix:downsample"}
    assert all(d["source"] == "wiki" for d in dropped)
    reps = {r["id"]: int(json.loads(r["meta"])["repeat"]) for r in kept}
    books = [reps[r["id"]] for r in rows if r["source"] == "books"]
    assert set(books) == {math.floor(rates["books"]), math.floor(rates["books"]) + 1}
    assert sum(books) / len(books) == pytest.approx(rates["books"], rel=0.1)
    wiki_kept = sum(r["source"] == "wiki" for r in kept) / sum(r["source"] == "wiki" for r in rows)
    assert wiki_kept == pytest.approx(rates["wiki"], abs=0.1)
    # same seed, different partitioning -> same decisions; another seed -> different ones
    _, res1, _ = run_mix(write_parts(rows, 1, tmp_path / "one"), tmp_path, CFG)
    assert {r["id"]: json.loads(r["meta"])["repeat"] for r in res1[0].kept.to_pylist()} == reps
    _, res2, _ = run_mix(parts, tmp_path, CFG, seed=8)
    assert {r["id"] for res in res2 for r in res.kept.to_pylist()} != set(reps)


def test_unweighted_source_is_dropped_with_reason(corpus: Path, tmp_path: Path) -> None:
    rows = corpus_docs(corpus)
    parts = write_parts(rows, 2, tmp_path / "in")
    _, results, _ = run_mix(parts, tmp_path, {"weights": {"web": 1.0, "books": 1.0}})
    dropped = [r for res in results for r in res.dropped.to_pylist()]
    assert {d["reason"] for d in dropped if d["source"] == "wiki"} == {"mix:unweighted"}
    assert sum(r["source"] == "wiki" for r in dropped) == sum(r["source"] == "wiki" for r in rows)


def test_mix_finalize_and_mix_files(corpus: Path, tmp_path: Path) -> None:
    rows = corpus_docs(corpus)
    src = tmp_path / "docs.parquet"
    pq.write_table(docs_table(rows), src)
    out = mix_files(
        [str(src)],
        str(tmp_path / "mixed.parquet"),
        {"web": 0.5, "books": 0.3, "wiki": 0.2},
        target_tokens=300_000,
        seed=3,
    )
    assert out["input"] == 400 and out["kept"] + sum(out["dropped"].values()) == 400
    assert pq.read_table(tmp_path / "mixed.dropped.parquet").num_rows == sum(out["dropped"].values())
    realised = {r["source"]: r for r in out["realised"]}
    assert sum(r["mix_tokens"] for r in realised.values()) == pytest.approx(300_000, rel=0.15)
    kept = pq.read_table(tmp_path / "mixed.parquet")
    assert all("repeat" in m for m in meta_dicts(kept))
    # realised epochs track the plan. Each draw is keyed on document ids, which include the input's absolute
    # path (a new tmp_path every run), and a few large documents carry much of a source's tokens: one seed's
    # share strays past 35% in about one run in twenty, so the plan is compared with the mean of five seeds
    tokens = {name: [r["mix_tokens"]] for name, r in realised.items()}
    for seed in (4, 5, 6, 7):
        again = mix_files(
            [str(src)],
            str(tmp_path / f"mixed-{seed}.parquet"),
            {"web": 0.5, "books": 0.3, "wiki": 0.2},
            target_tokens=300_000,
            seed=seed,
        )
        for r in again["realised"]:
            tokens[r["source"]].append(r["mix_tokens"])
    for name, r in realised.items():
        assert sum(tokens[name]) / len(tokens[name]) == pytest.approx(r["target_tokens"], rel=0.35), name


def test_empty_batch_and_null_text(corpus: Path) -> None:
    stage = MixStage.from_dict({"weights": {"web": 1.0}})
    empty = stage.apply(docs_table([]), {"rates": {"web": 0.5}, "seed": 0})
    assert empty.kept.num_rows == empty.dropped.num_rows == 0
    row = {**corpus_docs(corpus)[0], "source": "web", "text": None}
    res = stage.apply(docs_table([row]), {"rates": {"web": 2.0}, "seed": 0})
    assert meta_dicts(res.kept)[0]["repeat"] == 2 and res.counters["mix_instances"] == 2


def real_books(corpus: Path) -> list[dict]:
    from curate.sources.base import Unit
    from curate.sources.books import BooksReader

    reader = BooksReader("books", "books")
    docs = [reader.read(Unit(str(p))).kept.to_pylist()[0] for p in sorted((corpus / "books").glob("*.txt"))]
    return [{**d, "meta": json.loads(d["meta"])} for d in docs]


def test_long_docs_are_downsampled_by_a_line_window(corpus: Path, tmp_path: Path) -> None:
    """A source of a few books at 0.4 epochs gets ~0.4 of each book, not all or nothing of each."""
    books = real_books(corpus)
    assert len(books) >= 5 and all(estimate_tokens(len(b["text"].encode())) >= 30_000 for b in books)
    parts = write_parts(books, 2, tmp_path / "in")
    avail = sum(estimate_tokens(len(b["text"].encode())) for b in books)
    cfg = {"weights": {"books": 1.0}, "target_tokens": int(0.4 * avail), "window_min_tokens": 30_000}
    state, results, _ = run_mix(parts, tmp_path, cfg)
    kept = [r for res in results for r in res.kept.to_pylist()]
    assert len(kept) == len(books) and not any(res.dropped.num_rows for res in results)
    by_id = {b["id"]: b["text"] for b in books}
    got = 0
    for r in kept:
        meta, orig = json.loads(r["meta"]), by_id[r["id"]]
        span, total = meta["window"].split("/")
        start, end = map(int, span.split("-"))
        assert int(total) == len(orig) and r["text"] == orig[start:end] and meta["repeat"] == 1
        assert start == 0 or orig[start - 1] == "\n"  # whole lines
        assert end == len(orig) or orig[end] == "\n"
        assert len(r["text"]) == pytest.approx(0.4 * len(orig), rel=0.02)
        got += estimate_tokens(len(r["text"].encode()))
    assert got == pytest.approx(0.4 * avail, rel=0.02)
    assert sum(res.counters["mix_windowed"] for res in results) == len(books)
    # deterministic per seed, placed elsewhere by another seed; off: whole books drawn or dropped
    _, again, _ = run_mix(write_parts(books, 1, tmp_path / "one"), tmp_path, cfg)
    assert sorted(r["text"] for r in again[0].kept.to_pylist()) == sorted(r["text"] for r in kept)
    _, other, _ = run_mix(parts, tmp_path, cfg, seed=8)
    assert {json.loads(r["meta"])["window"] for res in other for r in res.kept.to_pylist()} != {
        json.loads(r["meta"])["window"] for r in kept
    }
    _, whole, _ = run_mix(parts, tmp_path, {**cfg, "window_min_tokens": None})
    assert all(
        "window" not in json.loads(r["meta"]) and r["text"] == by_id[r["id"]]
        for res in whole
        for r in res.kept.to_pylist()
    )
