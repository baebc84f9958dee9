"""Document ids are unique within a run, by construction from (source, file, record position), so a repeated
WARC record or an ``id`` column repeated across files never makes two documents share an id (the original id is
kept in meta) and dedup sees every copy. Inputs: real WARC records and real JSONL documents, copied.
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline import Pipeline
from curate.schema import decode_meta
from curate.sources.base import Unit
from curate.sources.tabular import JsonlReader, ParquetReader
from curate.sources.warc import WarcReader


def test_repeated_warc_records_get_distinct_ids(corpus: Path, tmp_path: Path) -> None:
    raw = gzip.decompress((corpus / "web" / "pages.warc.gz").read_bytes())
    starts = [m.start() for m in re.finditer(rb"WARC/1\.0\r\n", raw)]
    recs = [raw[a:b] for a, b in zip(starts, starts[1:] + [len(raw)])]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    repeated = tmp_path / "a" / "crawl.warc.gz"
    repeated.write_bytes(b"".join(gzip.compress(r) for r in [recs[1], recs[2], recs[1], recs[1]]))
    shutil.copy(repeated, tmp_path / "b" / "crawl.warc.gz")  # the same file under the same name elsewhere
    r = WarcReader("web", "web")
    kept = [d for sub in ("a", "b") for d in r.read(Unit(str(tmp_path / sub / "crawl.warc.gz"))).kept.to_pylist()]
    assert len(kept) == 8 and len({d["id"] for d in kept}) == 8
    rids = [decode_meta(d["meta"])["warc_record_id"] for d in kept]
    assert len(set(rids)) == 2 and rids.count(rids[0]) == 6  # the original record id is kept in meta


def test_an_id_column_repeated_across_files_gives_distinct_ids(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = JsonlReader("d", "web", JsonlReader.Config(id_field="id"))
    kept = [d for name in ("a.jsonl", "b.jsonl") for d in r.read(Unit(str(tmp_path / name))).kept.to_pylist()]
    assert len(kept) == 60 and len({d["id"] for d in kept}) == 60
    assert len({decode_meta(d["meta"])["source_id"] for d in kept}) == 30
    docs = JsonlReader("d", "web").read(Unit(str(tmp_path / "a.jsonl"))).kept.to_pylist()
    for name in ("a.parquet", "b.parquet"):
        pq.write_table(
            pa.table({"id": [f"doc-{i % 10}" for i in range(30)], "text": [d["text"] for d in docs]}), tmp_path / name
        )
    p = ParquetReader("p", "web", ParquetReader.Config(id_field="id"))
    kept = [d for name in ("a.parquet", "b.parquet") for d in p.read(Unit(str(tmp_path / name))).kept.to_pylist()]
    assert len(kept) == 60 and len({d["id"] for d in kept}) == 60


def test_copies_with_repeated_ids_are_all_seen_by_dedup(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = Pipeline.from_dict(
        {
            "name": "ids",
            "workers": 0,
            "stages": [{"dedup_exact": {}}],
            "sources": [
                {
                    "name": "docs",
                    "kind": "web",
                    "format": "jsonl",
                    "paths": [str(tmp_path / "*.jsonl")],
                    "options": {"id_field": "id"},
                }
            ],
        }
    ).run(out=tmp_path / "run", workers=0, log=lambda m: None)
    read, exact = summary["stages"]
    assert (read["in"], read["kept"]) == (60, 60)
    assert (exact["in"], exact["kept"], exact["dropped"]) == (60, 30, {"dedup:exact": 30})
