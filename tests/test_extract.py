"""ExtractStage and extract_file on real pages; timeouts, pass-through and bad documents are counted."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from curate.extract.web import ExtractStage, extract_file
from curate.schema import docs_table
from curate.sources.base import Unit
from curate.sources.warc import WarcReader


def pages(corpus: Path, n: int = 12):
    res = WarcReader("web", "web").read(Unit(str(corpus / "web" / "pages.warc.gz")))
    return res.kept.slice(0, n)


def test_fast_engine_finds_main_text(corpus: Path) -> None:
    batch = pages(corpus)
    expected = {json.loads(x)["url"]: json.loads(x) for x in (corpus / "web" / "pages.jsonl").read_text().splitlines()}
    res = ExtractStage().apply(batch, None)
    assert res.kept.num_rows + res.dropped.num_rows + res.errors.num_rows == batch.num_rows
    assert res.kept.num_rows >= batch.num_rows - 1
    hits = sum(all(s in d["text"] for s in expected[d["url"]]["expected_with"]) for d in res.kept.to_pylist())
    assert hits >= 0.75 * res.kept.num_rows
    assert res.kept.column("id").to_pylist() == [i for i in batch.column("id").to_pylist()
                                                 if i in set(res.kept.column("id").to_pylist())]
    assert all(dict(m)["extracted"] == "1" for m in res.kept.column("meta").to_pylist())


def test_timeout_empty_oversized_and_passthrough(corpus: Path) -> None:
    batch = pages(corpus, 3).to_pylist()
    rows = [dict(r, meta=dict(r["meta"])) for r in batch]
    rows.append(dict(rows[0], id="x1", text="<html><body></body></html>"))
    rows.append(dict(rows[0], id="x2", text="already text", meta={"extracted": "1"}))
    res = ExtractStage.from_dict({"timeout_s": 1e-6}).apply(docs_table(rows), None)
    assert res.kept.column("id").to_pylist() == ["x2"]  # passes through untouched
    reasons = res.dropped.column("reason").to_pylist()
    assert reasons.count("extract:timeout") >= 3 and len(reasons) + res.errors.num_rows == 4
    res = ExtractStage.from_dict({"max_html_bytes": 100}).apply(docs_table(rows[:1] + rows[3:4]), None)
    assert res.dropped.column("reason").to_pylist() == ["extract:oversized", "extract:empty"]


def test_extract_file_standalone(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    counts = extract_file(str(corpus / "web" / "whirlwind.warc.gz"), str(out))
    assert counts["read"] == 4 and counts["kept"] == 1 and counts["read_dropped"] == {"warc:non_response": 3}
    table = pq.read_table(out)
    assert "Escopete" in table.column("text")[0].as_py() and "<html" not in table.column("text")[0].as_py()
    assert pq.read_table(str(out) + ".dropped.parquet").num_rows == 3
    counts = extract_file(str(corpus / "web" / "whirlwind.warc.wet.gz"), str(tmp_path / "wet.parquet"))
    assert counts["kept"] == 1
