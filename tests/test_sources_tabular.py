"""JsonlReader/ParquetReader on the real dedup docs and web index, compressed and corrupt inputs."""
from __future__ import annotations

import json
import gzip
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from curate.schema import decode_meta
from curate.sources.base import Unit
from curate.sources.tabular import JsonlReader, ParquetReader


def test_jsonl_real_and_compressed(corpus: Path, tmp_path: Path) -> None:
    src = corpus / "dedup" / "docs.jsonl"
    r = JsonlReader("d", "web", JsonlReader.Config(id_field="id"))
    plain = r.read(Unit(str(src)))
    assert plain.kept.num_rows == 400 and not plain.dropped.num_rows and not plain.errors.num_rows
    (tmp_path / "d.jsonl.gz").write_bytes(gzip.compress(src.read_bytes()))
    (tmp_path / "d.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(src.read_bytes()))
    for name in ("d.jsonl.gz", "d.jsonl.zst"):  # same rows (ids differ: they name the file)
        got = r.read(Unit(str(tmp_path / name))).kept
        assert got.column("text").to_pylist() == plain.kept.column("text").to_pylist()
        assert [decode_meta(m)["source_id"] for m in got.column("meta").to_pylist()] == \
            [decode_meta(m)["source_id"] for m in plain.kept.column("meta").to_pylist()]
    web = JsonlReader("w", "web", JsonlReader.Config(text_field="file", url_field="url")).read(
        Unit(str(corpus / "web" / "pages.jsonl")))
    assert web.kept.num_rows == 256 and web.kept.column("url").to_pylist()[0].startswith("http")


def test_jsonl_bad_lines_counted(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_bytes().splitlines()[:3]
    p = tmp_path / "bad.jsonl"
    p.write_bytes(b"\n".join([lines[0], b'{"text": 5}', b'{"nope": 1}', b"{broken", b"[1,2]",
                              b'{"text": "caf\xe9"}', b"", lines[1]]) + b"\n")
    res = JsonlReader("d", "web").read(Unit(str(p)))
    assert res.kept.num_rows == 2
    assert Counter(res.dropped.column("reason").to_pylist()) == {"tabular:non_string_text": 1,
                                                                 "tabular:missing_text": 1}
    assert Counter(res.errors.column("reason").to_pylist()) == {"jsonl:malformed": 1, "jsonl:not_object": 1,
                                                                "jsonl:bad_utf8": 1}
    assert json.loads(res.errors.to_pylist()[0]["meta"])["line"] == 4
    gz = (tmp_path / "t.jsonl.gz")
    gz.write_bytes(gzip.compress((corpus / "dedup" / "docs.jsonl").read_bytes())[:60000])
    res = JsonlReader("d", "web").read(Unit(str(gz)))
    assert res.kept.num_rows > 0 and res.errors.num_rows == 1  # truncated gzip: rows before it kept, counted
    (tmp_path / "e.jsonl").write_bytes(b"")
    assert JsonlReader("d", "web").read(Unit(str(tmp_path / "e.jsonl"))).kept.num_rows == 0


def test_parquet_text_column(corpus: Path, tmp_path: Path) -> None:
    docs = JsonlReader("d", "web", JsonlReader.Config(id_field="id")).read(Unit(str(corpus / "dedup" / "docs.jsonl")))
    texts = docs.kept.column("text").to_pylist()
    p = tmp_path / "d.parquet"
    pq.write_table(pa.table({"body": texts[:10] + [None], "n": list(range(11))}), p, row_group_size=4)
    res = ParquetReader("p", "web", ParquetReader.Config(text_field="body", meta_fields=["n"])).read(Unit(str(p)))
    assert res.kept.column("text").to_pylist() == texts[:10]
    assert res.dropped.column("reason").to_pylist() == ["tabular:missing_text"]
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(p.read_bytes()[:100])
    assert ParquetReader("p", "web").read(Unit(str(bad))).errors.num_rows == 1


def test_parquet_split_at_row_groups_matches_whole_file(corpus: Path, tmp_path: Path) -> None:
    docs = JsonlReader("d", "web", JsonlReader.Config(id_field="id")).read(Unit(str(corpus / "dedup" / "docs.jsonl")))
    texts = docs.kept.column("text").to_pylist()
    p = tmp_path / "big.parquet"
    pq.write_table(pa.table({"text": texts[:-1] + [None]}), p, row_group_size=25)  # 16 row groups
    whole = ParquetReader("p", "web").read(Unit(str(p)))
    split = ParquetReader("p", "web", ParquetReader.Config(split_bytes=p.stat().st_size // 5))
    units = split.units([str(p)])
    assert 4 <= len(units) <= 6 and units[0].start == 0 and units[-1].end is None
    parts = [split.read(u) for u in units]
    assert sum((r.kept.column("id").to_pylist() for r in parts), []) == whole.kept.column("id").to_pylist()
    assert sum(r.dropped.num_rows for r in parts) == whole.dropped.num_rows == 1
    assert not any(r.errors.num_rows for r in parts)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    units = split.units([str(bad)])  # unreadable footer: one unit, whose read counts the error
    assert len(units) == 1 and split.read(units[0]).errors.num_rows == 1


def test_jsonl_split_at_line_starts_matches_whole_file(corpus: Path, tmp_path: Path) -> None:
    real = (corpus / "dedup" / "docs.jsonl").read_bytes().splitlines()
    bad = [b"{broken", b"", b'{"text": 5}', b'{"text": "caf\xe9"}']  # spread through the file
    lines = [x for i, line in enumerate(real) for x in ([line, bad[i // 100]] if i % 100 == 50 else [line])]
    p = tmp_path / "big.jsonl"
    p.write_bytes(b"\n".join(lines))  # no final newline: the last unit ends at end of file
    whole = JsonlReader("d", "web").read(Unit(str(p)))
    split = JsonlReader("d", "web", JsonlReader.Config(split_bytes=p.stat().st_size // 7))
    units = split.units([str(p)])
    assert 6 <= len(units) <= 8 and units[0].start == 0 and units[-1].end is None
    data = p.read_bytes()
    assert all(data[u.start - 1:u.start] == b"\n" and data.count(b"\n", 0, u.start) == u.first_record
               for u in units[1:])
    parts = [split.read(u) for u in units]
    for kind in ("kept", "dropped", "errors"):
        got = [r for res in parts for r in getattr(res, kind).to_pylist()]
        assert got == getattr(whole, kind).to_pylist(), kind  # same ids, line numbers, reasons
    assert whole.kept.num_rows == 400 and whole.errors.num_rows == 2 and whole.dropped.num_rows == 1
    gz = tmp_path / "big.jsonl.gz"
    gz.write_bytes(gzip.compress(data))
    assert split.units([str(gz), str(p)]) == [Unit(str(gz))] + units  # compressed: never split
