"""JsonlReader/ParquetReader on the real dedup docs and web index, and their hostile forms: bad lines (a lone
surrogate, nesting past the stack) error alone, compressed files cut short keep every line decoded before the
cut, every gzip member and zstd frame is read once and a zip is refused, a byte order mark is not text, a bad
Parquet row group or value costs only its rows.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import json
import lzma
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.pipeline import Pipeline
from curate.schema import decode_meta
from curate.sources.base import Unit
from curate.sources.tabular import JsonlReader, ParquetReader
from tests.support.readers import counts


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
        assert [decode_meta(m)["source_id"] for m in got.column("meta").to_pylist()] == [
            decode_meta(m)["source_id"] for m in plain.kept.column("meta").to_pylist()
        ]
    web = JsonlReader("w", "web", JsonlReader.Config(text_field="file", url_field="url")).read(
        Unit(str(corpus / "web" / "pages.jsonl"))
    )
    assert web.kept.num_rows == 256 and web.kept.column("url").to_pylist()[0].startswith("http")


def test_jsonl_bad_lines_counted(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_bytes().splitlines()[:3]
    p = tmp_path / "bad.jsonl"
    p.write_bytes(
        b"\n".join(
            [lines[0], b'{"text": 5}', b'{"nope": 1}', b"{broken", b"[1,2]", b'{"text": "caf\xe9"}', b"", lines[1]]
        )
        + b"\n"
    )
    res = JsonlReader("d", "web").read(Unit(str(p)))
    assert res.kept.num_rows == 2
    assert Counter(res.dropped.column("reason").to_pylist()) == {
        "tabular:non_string_text": 1,
        "tabular:missing_text": 1,
    }
    assert Counter(res.errors.column("reason").to_pylist()) == {
        "jsonl:malformed": 1,
        "jsonl:not_object": 1,
        "jsonl:bad_utf8": 1,
    }
    assert json.loads(res.errors.to_pylist()[0]["meta"])["line"] == 4
    gz = tmp_path / "t.jsonl.gz"
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
    assert all(
        data[u.start - 1 : u.start] == b"\n" and data.count(b"\n", 0, u.start) == u.first_record for u in units[1:]
    )
    parts = [split.read(u) for u in units]
    for kind in ("kept", "dropped", "errors"):
        got = [r for res in parts for r in getattr(res, kind).to_pylist()]
        assert got == getattr(whole, kind).to_pylist(), kind  # same ids, line numbers, reasons
    assert whole.kept.num_rows == 400 and whole.errors.num_rows == 2 and whole.dropped.num_rows == 1
    gz = tmp_path / "big.jsonl.gz"
    gz.write_bytes(gzip.compress(data))
    assert split.units([str(gz), str(p)]) == [Unit(str(gz))] + units  # compressed: never split


def test_meta_nested_past_the_stack_errors_its_record_only(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    text = json.loads(lines[0])["text"]
    deep = "[" * 900 + "]" * 900  # parses, but meta encoding recurses past the stack
    hostile = [
        f'{{"text": {json.dumps(text)}, "tags": {deep}}}',
        f'{{"text": {json.dumps(text)}, "extra": {{"k": {deep}}}}}',
    ]
    p = tmp_path / "docs.jsonl"
    p.write_text("\n".join(lines[:6] + hostile + lines[6:]) + "\n", encoding="utf-8")
    reader = JsonlReader("d", "web", JsonlReader.Config(meta_fields=["tags"], meta_field="extra"))
    batches: list = []
    rest = reader.read(Unit(str(p)), sink=batches.append)  # streamed, as the runner reads: the batch survives
    kept = sum(b.kept.num_rows for b in batches) + rest.kept.num_rows
    errors = [r for b in batches + [rest] for r in b.errors.to_pylist()]
    assert kept == 12 and [(e["reason"], e["url"].rsplit("#", 1)[1]) for e in errors] == [
        ("input:too_deep", "7"),
        ("input:too_deep", "8"),
    ]


def _oracle_lines(kind: str, cut: bytes) -> int:
    """Complete lines in what a one-shot decompressor recovers from the cut file."""
    if kind == "zst":
        return zstandard.ZstdDecompressor().decompressobj().decompress(cut).count(b"\n")
    d = {"gz": lambda: zlib.decompressobj(31), "bz2": bz2.BZ2Decompressor, "xz": lzma.LZMADecompressor}[kind]()
    return d.decompress(cut).count(b"\n")


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zst"])
def test_a_cut_compressed_file_keeps_every_line_decoded_before_the_cut(corpus: Path, tmp_path: Path, kind: str) -> None:
    data = (corpus / "dedup" / "docs.jsonl").read_bytes()
    whole = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress, "zst": zstandard.ZstdCompressor().compress}[
        kind
    ](data)
    cut = whole[: len(whole) * 6 // 10]
    (tmp_path / f"cut.jsonl.{kind}").write_bytes(cut)
    res = JsonlReader("d", "web").read(Unit(str(tmp_path / f"cut.jsonl.{kind}")))
    assert res.kept.num_rows == _oracle_lines(kind, cut) > 150  # every line, whatever the cut
    assert res.errors.column("reason").to_pylist() == ["error:EOFError"]  # zst: before, nothing said it was cut


def test_every_member_or_frame_is_read_and_a_zip_is_refused(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_bytes().splitlines(keepends=True)
    parts = [b"".join(lines[i : i + 50]) for i in range(0, 200, 50)]
    cz = zstandard.ZstdCompressor()
    (tmp_path / "frames.jsonl.zst").write_bytes(b"".join(cz.compress(p) for p in parts))  # pzstd-style frames
    (tmp_path / "members.jsonl.gz").write_bytes(b"".join(gzip.compress(p) for p in parts) + b"\0" * 512)
    (tmp_path / "junk.jsonl.gz").write_bytes(gzip.compress(parts[0]) + b"not gzip at all")
    with zipfile.ZipFile(tmp_path / "two.jsonl.zip", "w") as z:
        z.writestr("a.jsonl", parts[0])
        z.writestr("b.jsonl", parts[1])
    r = JsonlReader("d", "web")
    assert [counts(r.read(Unit(str(tmp_path / n)))) for n in ("frames.jsonl.zst", "members.jsonl.gz")] == [
        (200, Counter(), Counter())
    ] * 2  # every frame of a multi-frame zst
    assert counts(r.read(Unit(str(tmp_path / "junk.jsonl.gz")))) == (
        50,
        Counter(),
        Counter({"error:BadCompressedData": 1}),
    )  # every line before the junk (before: 40 of 50)
    assert counts(r.read(Unit(str(tmp_path / "two.jsonl.zip")))) == (  # every member of a zip
        0,
        Counter({"input:unsupported_compression": 1}),
        Counter(),
    )


def test_a_byte_order_mark_before_json_lines_is_not_part_of_the_first_record(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_bytes().splitlines(keepends=True)[:30]
    (tmp_path / "bom.jsonl").write_bytes(codecs.BOM_UTF8 + b"".join(lines))
    small = JsonlReader("d", "web", JsonlReader.Config(split_bytes=len(lines[0]) * 3))  # split units too
    for r in (JsonlReader("d", "web"), small):
        units = r.units([str(tmp_path / "bom.jsonl")])
        results = [r.read(u) for u in units]
        assert sum(x.kept.num_rows for x in results) == 30 and not any(x.errors.num_rows for x in results)


def test_a_bad_parquet_row_group_or_value_costs_only_its_rows(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    texts = [json.loads(x)["text"] for x in lines]
    pq.write_table(pa.table({"text": texts}), tmp_path / "ok.parquet", row_group_size=10)
    raw = bytearray((tmp_path / "ok.parquet").read_bytes())
    chunk = pq.ParquetFile(tmp_path / "ok.parquet").metadata.row_group(1).column(0)
    page = chunk.dictionary_page_offset or chunk.data_page_offset
    raw[page + 40 : page + 240] = b"\0" * 200  # a corrupt (dictionary) page in row group 1 of 4
    (tmp_path / "corrupt.parquet").write_bytes(bytes(raw))
    bad = [t.encode() for t in texts]
    bad[3], bad[25] = b"ok \xff\xfe not utf-8", b"\xed\xa0\x80"  # invalid UTF-8 in a string column
    pq.write_table(pa.table({"text": pa.array(bad, pa.binary()).view(pa.string())}), tmp_path / "utf8.parquet")
    r = ParquetReader("p", "web")
    res = r.read(Unit(str(tmp_path / "corrupt.parquet")))
    assert counts(res) == (
        30,
        Counter(),
        Counter({"parquet:bad_row_group": 10}),
    )  # one error per row of the bad row group, the others kept
    assert res.kept.column("text").to_pylist() == texts[:10] + texts[20:]
    assert [decode_meta(m)["row"] for m in res.errors.column("meta").to_pylist()] == list(range(10, 20))
    res = r.read(Unit(str(tmp_path / "utf8.parquet")))
    assert counts(res) == (
        38,
        Counter(),
        Counter({"error:UnicodeDecodeError": 2}),
    )  # one error per bad line, the others kept


COMPRESS = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": lambda b: zstandard.ZstdCompressor().compress(b),
}


@pytest.mark.parametrize("ext", sorted(COMPRESS))
def test_jsonl_members_repeating_text_are_each_read_once(corpus: Path, tmp_path: Path, ext: str) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_bytes().splitlines(keepends=True)[:60]
    parts = [b"".join(lines[k : k + 7]) for k in range(0, 60, 7)] + [b"".join(lines[:25])]
    path = tmp_path / f"members.jsonl.{ext}"
    path.write_bytes(b"".join(COMPRESS[ext](p) for p in parts))
    res = JsonlReader("d", "web").read(Unit(str(path)))
    assert res.kept.column("text").to_pylist() == [json.loads(ln)["text"] for ln in lines + lines[:25]]
    assert len(set(res.kept.column("id").to_pylist())) == 85


def test_jsonl_bad_lines_error_alone(corpus: Path, tmp_path: Path) -> None:
    real = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    doc = json.loads(real[0])
    surrogate = json.dumps(doc).replace('"text": "', '"text": "\\ud800', 1)  # valid JSON, invalid Unicode
    deep = "[" * 100_000 + "]" * 100_000
    bad_url = json.dumps({"text": doc["text"], "url": "https://example.org/"}).replace("org/", "org/\\udcff")
    p = tmp_path / "docs.jsonl"
    p.write_text("\n".join(real[:20] + [surrogate, deep, bad_url] + real[20:]) + "\n", encoding="utf-8")
    res = JsonlReader("d", "web", JsonlReader.Config(id_field="id", url_field="url")).read(Unit(str(p)))
    assert res.kept.num_rows == 41 and res.dropped.num_rows == 0  # 40 real lines + the sanitised URL
    assert Counter(res.errors.column("reason").to_pylist()) == {"input:invalid_unicode": 1, "jsonl:too_deep": 1}
    assert [decode_meta(m)["line"] for m in res.errors.column("meta").to_pylist()] == [21, 22]
    assert "https://example.org/\\udcff" in res.kept.column("url").to_pylist()


def test_html_page_with_a_lone_surrogate_errors_alone(corpus: Path, tmp_path: Path) -> None:
    pages = sorted((corpus / "web" / "html").glob("*.html"))[:6]
    rows = [{"url": f"https://example.org/{i}", "html": p.read_text("utf-8", "replace")} for i, p in enumerate(pages)]
    rows[2]["html"] = rows[2]["html"].replace("<body", "<body>\ud83d", 1)  # half of a surrogate pair
    p = tmp_path / "pages.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    summary = Pipeline.from_dict(
        {
            "name": "h",
            "workers": 0,
            "stages": [{"extract": {}}],
            "sources": [
                {
                    "name": "web",
                    "kind": "web",
                    "format": "jsonl",
                    "paths": [str(p)],
                    "options": {"text_field": "html", "url_field": "url"},
                }
            ],
        }
    ).run(out=run, workers=0, log=lambda m: None)
    read, extract = summary["stages"]
    assert (read["in"], read["kept"], read["errors"]) == (6, 5, {"input:invalid_unicode": 1})
    assert extract["in"] == 5 and extract["kept"] + extract["dropped_total"] + extract["errors_total"] == 5
