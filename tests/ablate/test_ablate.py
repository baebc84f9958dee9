"""Ablation (``curate ablate``): the evaluation text never reaches a variant's shards, the variants hold the
same number of tokens, and the statistics are right. A tiny real run: web pages, a wiki sample and two books
from the test corpus, two variants, two seeds, a few training steps."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from curate.ablate.holdout import DROP_REASON, HoldoutStage, held_chunks, line_chunks
from curate.ablate.run import AblateConfig, run_ablation
from curate.ablate.stats import paired_difference
from curate.ablate.variants import variant_stages
from curate.recipe import RecipeError
from curate.schema import docs_table, meta_dicts
from curate.shards.megatron import IndexedReader
from curate.stage import FitContext


def _recipe(corpus: Path, tmp: Path) -> Path:
    raw = {
        "name": "ablate-tiny",
        "seed": 11,
        "workers": 0,
        "sources": [
            {"name": "web", "kind": "web", "format": "warc", "paths": [str(corpus / "web" / "pages.warc.gz")]},
            {
                "name": "wiki",
                "kind": "wiki",
                "format": "mediawiki",
                "paths": [str(corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2")],
            },
            {
                "name": "books",
                "kind": "books",
                "format": "text",
                "paths": [str(corpus / "books" / "pg84.txt"), str(corpus / "books" / "11-0.txt")],
            },
        ],
        "stages": [
            {"extract": {}, "only": ["web"]},
            {"langid": {"languages": ["en"]}},
            {"heuristics": {}, "only": ["web"]},
            {"dedup_exact": {}},
            {"mix": {"weights": {"web": 0.5, "books": 0.3, "wiki": 0.2}, "window_min_tokens": 2000}},
            {"tokenize": {"vocab_size": 600, "sample_chars": 300000, "val_fraction": 0.05}},
        ],
    }
    path = tmp / "ablate-tiny.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def ablation(corpus: Path, tmp_path_factory) -> tuple[Path, dict, AblateConfig]:
    tmp = tmp_path_factory.mktemp("ablate")
    cfg = AblateConfig(
        recipe=str(_recipe(corpus, tmp)),
        variants=["raw", "curated"],
        seeds=2,
        steps=4,
        eval_every=2,
        eval_tokens=512,
        tokens=60_000,
        out=str(tmp / "out"),
        workers=0,
        device="cpu",
        holdout_share=0.1,
        chunk_chars=2000,
        eval_files=[str(corpus / "dedup" / "docs.jsonl")],
    )
    return tmp / "out", run_ablation(cfg, log=lambda s: None), cfg


def _eval_records(out: Path) -> list[dict]:
    recs = []
    for f in sorted((out / "eval").glob("*.jsonl")):
        recs += [json.loads(line) for line in f.read_text().splitlines()]
    return recs


def _shard_texts(variant: Path) -> tuple[set[str], list[str]]:
    """Lineage ids and the decoded text of every document in a variant's shards (EOD stripped)."""
    import sentencepiece as spm

    man = json.loads((variant / "manifest.json").read_text())
    sp = spm.SentencePieceProcessor(model_file=str(variant / man["tokenizer"]["path"]))
    texts = []
    for entries in man["splits"].values():
        for e in entries:
            r = IndexedReader(variant / e["prefix"])
            for i in range(len(r)):
                toks = r[i].tolist()
                assert toks[-1] == man["eod_id"]
                texts.append(sp.decode(toks[:-1]))
    ids = set(pq.read_table(variant / man["lineage"]).column("id").to_pylist())
    return ids, texts


def test_no_evaluation_document_reaches_any_variant(ablation) -> None:
    out, *_ = ablation
    recs = _eval_records(out)
    assert {r["source"] for r in recs} == {"wiki", "books"}
    assert any(r["whole"] for r in recs) and any(not r["whole"] for r in recs)  # wiki pages and book chunks
    eval_ids = {r["id"] for r in recs} | {r["doc_id"] for r in recs if r["whole"]}
    for v in ("raw", "curated"):
        ids, texts = _shard_texts(out / "variants" / v)
        assert ids and not ids & eval_ids, v
        whole = set(texts)
        joined = "\x00".join(texts)
        for r in recs:
            assert r["text"] not in whole, (v, r["id"])
            if len(r["text"]) >= 200:  # long enough not to occur by chance: not even inside a document
                assert r["text"] not in joined, (v, r["id"])
        assert any(t.strip() for t in texts)


def test_variants_hold_equal_tokens_and_results_are_recorded(ablation) -> None:
    out, rec, _ = ablation
    tokens = {
        v: sum(json.loads((out / "variants" / v / "manifest.json").read_text())["tokens"].values())
        for v in ("raw", "curated")
    }
    assert max(tokens.values()) <= 1.01 * min(tokens.values()), tokens
    assert abs(tokens["curated"] - 60_000) <= 0.01 * 60_000, tokens
    saved = json.loads((out / "ablation.json").read_text())
    assert saved["baseline"] == "raw" and set(saved["eval_files"]) == {"wiki", "books", "docs"}  # + --eval file
    assert saved["eval_set"]["sources"]["books"]["chunks"] > 0
    for v in ("raw", "curated"):
        for name in ("wiki", "books", "docs"):
            res = saved["summary"]["results"][v][name]
            assert len(res["bpb"]["values"]) == 2 and all(0 < x < 20 for x in res["bpb"]["values"])
            curve = saved["runs"][v]["0"]["eval"][name]
            assert [p[0] for p in curve] == [0, 2, 4]
    d = saved["summary"]["differences"]["curated"]["books"]["bpb"]
    assert d["low"] <= d["mean"] <= d["high"]
    # the same tokenizer for every variant
    shas = {
        json.loads((out / "variants" / v / "manifest.json").read_text())["tokenizer"]["sha256"]
        for v in ("raw", "curated")
    }
    assert len(shas) == 1
    assert "data:image/png;base64," in (out / "ablation.html").read_text()
    # built after curated in the same run directory: the runner's resume reused the shared prefix
    raw_steps = json.loads((out / "variants" / "raw" / "summary.json").read_text())["stages"]
    assert [(s["stage"], bool(s.get("reused"))) for s in raw_steps[:3]] == [
        ("read", True),
        ("holdout", True),
        ("extract", True),
    ], "the shared steps were not reused"
    assert rec["summary"] == saved["summary"]


def test_holdout_stage_cuts_chunks_by_text_and_accounts_for_every_row(corpus: Path) -> None:
    book = (corpus / "books" / "11-0.txt").read_text(encoding="utf-8")
    wiki_like = book[:1500]  # shorter than a chunk: held out whole or not at all
    table = docs_table(
        [
            {"id": "a", "source": "books", "kind": "books", "text": book},
            {"id": "b", "source": "books", "kind": "books", "text": book},  # same text, other id
            {"id": "c", "source": "wiki", "kind": "wiki", "text": wiki_like},
            {"id": "d", "source": "wiki", "kind": "wiki", "text": ""},
        ]
    )
    stage = HoldoutStage(HoldoutStage.Config(share=0.3, chunk_chars=2000))
    state = stage.fit(FitContext([], Path("."), 5, lambda f, xs: [f(x) for x in xs]))
    res = stage.apply(table, state)
    assert res.kept.num_rows + res.dropped.num_rows == 4
    held = held_chunks(book, 5, 0.3, 2000)
    assert held and len(held) < len(list(line_chunks(book, 2000)))
    kept = {
        i: (t, m)
        for i, t, m in zip(res.kept.column("id").to_pylist(), res.kept.column("text").to_pylist(), meta_dicts(res.kept))
    }
    assert kept["a"][0] == kept["b"][0]  # identical texts: identical decisions
    assert int(kept["a"][1]["holdout_chunks"]) == len(held)
    assert len(kept["a"][0]) + sum(e - s for s, e, _ in held) == len(book)
    for s, e, _ in held:
        assert book[s:e] not in kept["a"][0]
    assert res.counters["holdout_chunks"] == 2 * len(held) + (0 if "c" in kept else 1)
    if "c" not in kept:
        assert res.dropped.column("reason").to_pylist() == [DROP_REASON]
    assert kept["d"][0] == ""


def test_variant_names_and_the_paired_interval() -> None:
    base = {
        "sources": [{"name": "web", "kind": "web"}],
        "stages": [
            {"extract": {}, "only": ["web"]},
            "langid",
            {"dedup_exact": {}},
            {"dedup": {}},
            {"mix": {"weights": {"web": 1}}},
            {"tokenize": {}},
        ],
    }
    names = lambda v: [next(k for k in s if k != "only") for s in variant_stages(base, v)]  # noqa: E731
    assert names("raw") == ["extract", "mix", "tokenize"]
    assert names("-dedup") == ["extract", "langid", "mix", "tokenize"]
    assert names("-langid-dedup_exact") == ["extract", "dedup", "mix", "tokenize"]
    with pytest.raises(RecipeError, match="no stage 'quality'"):
        variant_stages(base, "-quality")
    with pytest.raises(RecipeError, match="exactly one 'mix'"):
        variant_stages(base, "-mix")
    d = paired_difference([1.0, 1.2, 1.1], [2.0, 2.1, 2.3])
    assert d["mean"] == pytest.approx(-1.0333333) and d["excludes_zero"]
    # t(0.975, 2) = 4.3027: the half-width is 4.3027 * sd / sqrt(3)
    assert d["high"] - d["mean"] == pytest.approx(4.302653 * d["std"] / 3**0.5, rel=1e-5)
    assert paired_difference([1.0], [2.0])["low"] is None


def test_a_recipe_path_variant_uses_its_stages_on_the_same_sources(tmp_path: Path) -> None:
    base = {
        "sources": [{"name": "web", "kind": "web"}, {"name": "wiki", "kind": "wiki"}],
        "stages": [{"langid": {}}, {"mix": {"weights": {"web": 1}}}, {"tokenize": {}}],
    }
    other = dict(
        base, stages=[{"dedup": {"threshold": 0.7}}, {"mix": {"weights": {"web": 0.5, "wiki": 0.5}}}, {"tokenize": {}}]
    )
    path = tmp_path / "alt.yaml"
    path.write_text(yaml.safe_dump(other))
    assert variant_stages(base, str(path)) == other["stages"]
    path.write_text(yaml.safe_dump(dict(other, sources=[{"name": "web", "kind": "web"}])))
    with pytest.raises(RecipeError, match="differ from the base recipe"):
        variant_stages(base, str(path))
    with pytest.raises(RecipeError, match="not found"):
        variant_stages(base, str(tmp_path / "missing.yaml"))


def test_eval_file_loading_counts_bad_lines_and_caps_tokens(ablation, tmp_path: Path) -> None:
    import sentencepiece as spm

    from curate.trainer.data import load_eval_jsonl

    out, *_ = ablation
    sp = spm.SentencePieceProcessor(model_file=str(out / "variants" / "raw" / "tokenizer" / "tokenizer.model"))
    texts = [r["text"] for r in _eval_records(out)[:3]]
    lines = [
        json.dumps({"text": texts[0]}),
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"id": 1}),
        json.dumps({"text": ""}),
        json.dumps({"text": texts[1] + "\ud800"}),
        json.dumps({"text": texts[2]}),
    ]
    f = tmp_path / "ev.jsonl"
    f.write_text("\n".join(lines) + "\n")
    full = load_eval_jsonl(f, "ev", sp, 1, 10**9)
    assert full.docs == 3 and full.skipped == {"bad_json": 1, "no_text": 2, "empty_text": 1}
    assert full.n_bytes == sum(len(t.encode()) for t in texts) + 1  # the lone surrogate scored as '?'
    assert full.tokens[0] == 1 and (full.tokens == 1).sum() == 4 and not full.truncated
    cap = len(sp.encode(texts[0])) + 5
    part = load_eval_jsonl(f, "ev", sp, 1, cap)
    assert part.truncated and part.docs == 2 and part.tokens.size - 1 == cap
    second = sp.decode(part.tokens[len(sp.encode(texts[0])) + 2 : -1].tolist())
    assert part.n_bytes == len(texts[0].encode()) + len(second.encode()) and texts[1].startswith(second)


def test_stream_evaluation_scores_each_token_once(ablation) -> None:
    import math

    import numpy as np
    import torch

    from curate.trainer.data import EvalSet
    from curate.trainer.model import GPT, GPTConfig
    from curate.trainer.train import evaluate_stream

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=600, block_size=16, n_layer=1, n_head=2, n_embd=32))
    toks = np.random.default_rng(0).integers(0, 600, 5 * 16 + 1)
    nats, bpb = evaluate_stream(model, EvalSet("x", "x", toks, n_bytes=200, docs=1), torch.device("cpu"), batch_size=2)
    t = torch.from_numpy(toks)
    windows = torch.stack([t[i * 16 : i * 16 + 17] for i in range(5)])
    with torch.no_grad():
        _, ref = model(windows[:, :-1], windows[:, 1:])
    assert nats == pytest.approx(ref.item(), rel=1e-5)
    assert bpb == pytest.approx(nats * 80 / math.log(2) / 200, rel=1e-9)
    # a stream one token longer adds one short window, scored alone
    nats2, _ = evaluate_stream(model, EvalSet("x", "x", np.append(toks, 7), 200, 1), torch.device("cpu"))
    assert nats2 != nats


def test_a_rerun_reuses_every_build_and_training_run(ablation) -> None:
    out, rec, cfg = ablation
    logs: list[str] = []
    again = run_ablation(cfg, log=logs.append)
    assert any("[curated] reusing the reference build" in s for s in logs)
    assert any("[raw] reusing its build" in s for s in logs)
    assert sum("reusing the finished run" in s for s in logs) == 4
    assert again["summary"] == rec["summary"]


def test_a_second_ablation_into_a_busy_directory_stops_clearly(ablation, tmp_path: Path) -> None:
    import dataclasses
    import fcntl

    _, _, cfg = ablation
    busy = tmp_path / "busy"
    busy.mkdir()
    with open(busy / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RecipeError, match="another ablation is running"):
            run_ablation(dataclasses.replace(cfg, out=str(busy)), log=lambda s: None)
    assert not (busy / "eval").exists()


def test_a_recipe_variant_may_not_take_a_builtin_name(ablation, tmp_path: Path) -> None:
    import dataclasses

    _, _, cfg = ablation
    shadow = tmp_path / "curated.yaml"
    shadow.write_text(Path(cfg.recipe).read_text())
    with pytest.raises(RecipeError, match="built-in variant name"):
        run_ablation(
            dataclasses.replace(cfg, variants=["raw", str(shadow)], out=str(tmp_path / "o")), log=lambda s: None
        )
