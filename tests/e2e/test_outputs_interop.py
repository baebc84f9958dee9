"""Run outputs every tool reads: stage and dropped directories in HF datasets, DuckDB, polars and pandas
(typed meta, exact counts of summary.json); shards read back with the Megatron index logic and the
tokenizer's EOS equal to the manifest's EOD (sentencepiece, a Megatron-style wrapper and HF
AutoTokenizer); the report's plots show more than one visible bar and the dedup table its URLs."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sentencepiece as spm

from curate import Pipeline
from curate.report import language_counts, language_figure, quality_figure, quality_histogram, write_report
from curate.shards.megatron import IndexedReader
from tests.support.docs import corpus_docs

PART = re.compile(r"part-\d{5}\.parquet")


@pytest.fixture(scope="module")
def run(corpus: Path, tmp_path_factory) -> Path:
    """The corpus' 400 dedup documents (web, wiki, books; planted duplicates) through langid, quality,
    dedup and tokenize, in-process."""
    d = tmp_path_factory.mktemp("interop")
    src = d / "docs.jsonl"
    with src.open("w", encoding="utf-8") as f:
        for r in corpus_docs(corpus):
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    recipe = {
        "name": "interop",
        "seed": 3,
        "workers": 0,
        "sources": [{"name": "docs", "kind": "web", "format": "documents-jsonl", "paths": [str(src)]}],
        "stages": [
            {"langid": {"languages": ["en", "de"]}},
            {
                "quality": {"positives": ["wiki", "books"], "negatives": ["web"], "target_keep_rate": 0.5},
                "only": ["web"],
            },
            {"dedup_exact": {}},
            {"dedup": {"threshold": 0.8}},
            {"tokenize": {"vocab_size": 1500, "shard_tokens": 150_000, "val_fraction": 0.05}},
        ],
    }
    Pipeline.from_dict(recipe, d).run(out=d / "run", workers=0, log=lambda s: None)
    return d / "run"


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def _stage(run: Path, name: str) -> dict:
    return next(s for s in _summary(run)["stages"] if s["stage"] == name)


def _files(d: Path) -> list[str]:
    return sorted(str(p) for p in d.glob("part-*.parquet"))


def _only_parts(d: Path) -> bool:
    return all(p.is_file() and PART.fullmatch(p.name) for p in d.iterdir())


def test_stage_and_dropped_dirs_load_in_hf_duckdb_polars_pandas(run: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets
    import duckdb
    import pandas as pd
    import polars as pl

    st = _stage(run, "quality")
    kept_dir, drop_dir = run / "stages" / st["dir"], run / "dropped" / st["dir"]
    assert st["kept"] > 0 and st["dropped_total"] > 0
    for d, n in ((kept_dir, st["kept"]), (drop_dir, st["dropped_total"])):
        files = _files(d)
        ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "hf"))
        assert ds.num_rows == n and ds.features["meta"].dtype == "string"
        streamed = datasets.load_dataset("parquet", data_files=files, split="train", streaming=True)
        assert sum(1 for _ in streamed) == n
        assert datasets.Dataset.from_parquet(files, cache_dir=str(tmp_path / "hf2")).num_rows == n
        glob = str(d / "*.parquet")
        count, avg, typ = duckdb.sql(
            f"SELECT count(*), avg((meta->>'quality_score')::DOUBLE), any_value(json_type(meta->'quality_score')) "
            f"FROM read_parquet('{glob}') WHERE kind = 'web'"
        ).fetchall()[0]
        web = sum(1 for r in pq.read_table(files, columns=["kind"]).column("kind").to_pylist() if r == "web")
        assert count == web and typ == "DOUBLE" and 0 < avg < 1  # a number, averaged in SQL
        assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()[0][0] == n
        frame = pl.read_parquet(files)
        scores = frame.filter(pl.col("kind") == "web")["meta"].str.json_decode(infer_schema_length=None)
        assert frame.height == n and scores.struct.field("quality_score").dtype == pl.Float64
        assert pd.read_parquet(files).shape[0] == n
    assert _only_parts(kept_dir) and _only_parts(drop_dir)  # state and work files live under _state/
    for d, n in ((kept_dir, st["kept"]), (drop_dir, st["dropped_total"])):
        assert (
            datasets.load_dataset("parquet", data_dir=str(d), split="train", cache_dir=str(tmp_path / "hf3")).num_rows
            == n
        )
        assert pl.read_parquet(d).height == n and pq.read_table(d).num_rows == n
        assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{d}/**/*.parquet')").fetchall()[0][0] == n


def test_shards_end_documents_with_the_tokenizers_eos(run: Path, monkeypatch) -> None:
    m = json.loads((run / "manifest.json").read_text())
    model = run / m["tokenizer"]["path"]
    sp = spm.SentencePieceProcessor(model_file=str(model))
    assert sp.eos_id() == m["eod_id"] == sp.piece_to_id(m["eod_token"]) and m["eod_is_eos"]
    assert sp.is_control(sp.eos_id()) and sp.bos_id() == -1  # Megatron's GPTSentencePieceTokenizer: eod = eos_id()
    docs = 0
    for entries in m["splits"].values():
        for e in entries:
            r = IndexedReader(run / e["prefix"])
            for i in range(len(r)):
                toks = r[i]
                assert toks[-1] == sp.eos_id() and sp.eos_id() not in toks[:-1]
            docs += len(r)
    assert docs == pq.read_table(run / m["lineage"], columns=["id"]).num_rows > 0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(model.parent))
    assert hf.eos_token == m["eod_token"] and hf.eos_token_id == m["eod_id"] and hf.bos_token_id is None
    text = pq.read_table(run / m["documents"][0], columns=["text"])["text"][0].as_py()
    assert hf.encode(text, add_special_tokens=False) == sp.encode(text)


def _visible_bars(svg: str) -> int:
    """Bars at least one pixel tall and wide in an SVG chart (its user units are pixels at its drawn size);
    the chart clamps every bar inside its axes."""
    bars = [r for r in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "bar"]
    return sum(float(r.get("height", 0)) >= 1 and float(r.get("width", 0)) > 0 for r in bars)


def test_report_plots_and_dedup_urls(run: Path) -> None:
    h = quality_histogram(run, _summary(run), _stage(run, "quality"))
    assert h["kept"].sum() + h["dropped"].sum() == _stage(run, "quality")["by_source"]["web"]["in"]  # only: [web]
    assert _visible_bars(quality_figure(h)) > 1
    counts = language_counts(run, _summary(run), _stage(run, "langid")).most_common(20)
    assert len(counts) > 1 and counts[0][0] == "en"
    assert _visible_bars(language_figure(counts)) == len(counts)  # every language's bar shows, not only en
    page = write_report(run).read_text()
    dedup = page[page.index("<h2>Deduplication</h2>") :]
    rows = re.findall(r"<tr><td>[0-9a-f]{13,}</td><td>(\w+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", dedup)
    removed = {
        r["url"]
        for d in ("03_dedup_exact", "04_dedup")
        for r in pq.read_table(run / "dropped" / d, columns=["url"]).to_pylist()
    }
    # the removed documents' own URLs, whole (never cut), not ids
    assert rows and all(html.unescape(url) in removed for *_, url in rows)
    assert str(run.resolve()) not in page  # paths relative to the run
    assert not re.search(r"\d\.\d{7,}", page)  # floats rounded
