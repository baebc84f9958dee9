"""Issue 14, second sweep of the input readers (hostile inputs the first sweep did not cover), on real data
made hostile: WARC records whose Content-Length is missing or runs past the end of the file, compressed
files cut short (every record decoded before the cut is read), meta nested past the stack, a corrupt or
non-UTF-8 Parquet row group, a siteinfo that does not parse, a byte order mark before JSON Lines, links
out of the root matched by a standalone command's glob. Each costs only its own records, counted.
"""
from __future__ import annotations

import bz2
import codecs
import gzip
import json
import lzma
import re
import shutil
import sys
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.io import expand_paths
from curate.pipeline import Pipeline
from curate.recipe import RecipeError
from curate.sources.base import Unit
from curate.standalone import run_recipe
from curate.sources.books import BooksReader
from curate.sources.code import CodeReader
from curate.schema import decode_meta
from curate.sources.tabular import JsonlReader, ParquetReader
from curate.sources.warc import WarcReader
from curate.sources.wiki import WikiReader


def _warc_records(corpus: Path, n: int) -> list[bytes]:
    """The first ``n`` records of the real pages.warc.gz (warcinfo, then responses), uncompressed."""
    raw = gzip.decompress((corpus / "web" / "pages.warc.gz").read_bytes())
    starts = [m.start() for m in re.finditer(rb"WARC/1\.0\r\n", raw)]
    return [raw[a:b] for a, b in zip(starts, starts[1:] + [len(raw)])][:n]


def _counts(res) -> tuple[int, Counter, Counter]:
    return (res.kept.num_rows, Counter(res.dropped.column("reason").to_pylist()),
            Counter(res.errors.column("reason").to_pylist()))


@pytest.mark.parametrize("gz,length", [(False, None), (False, b"99999999999999"), (False, b"-50"), (False, b""),
                                       (True, b"-50"), (True, b"abc"), (True, b"")])
def test_a_warc_record_without_a_usable_length_costs_only_itself(corpus: Path, tmp_path: Path, gz: bool,
                                                                 length: bytes | None) -> None:
    recs = _warc_records(corpus, 7)  # warcinfo + 6 pages
    if length is None:
        recs[3] = re.sub(rb"Content-Length: \d+\r\n", b"", recs[3], count=1)
    else:
        recs[3] = re.sub(rb"Content-Length: \d+", b"Content-Length: " + length, recs[3], count=1)
    path = tmp_path / ("lie.warc.gz" if gz else "lie.warc")
    path.write_bytes(b"".join(gzip.compress(r) if gz else r for r in recs))
    reader = WarcReader("web", "web")
    good = reader.read(Unit(str(corpus / "web" / "pages.warc.gz"))).kept.column("text").to_pylist()[:6]
    res = reader.read(Unit(str(path)))
    # before: plain, it swallowed the pages after it; gzipped, it was counted twice (warc:no_http + an error)
    assert _counts(res) == (5, {"warc:non_response": 1}, {"warc:length_mismatch": 1})
    assert res.kept.column("text").to_pylist() == good[:2] + good[3:]  # the pages after it, exact


def test_meta_nested_past_the_stack_errors_its_record_only(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    text = json.loads(lines[0])["text"]
    deep = "[" * 900 + "]" * 900  # parses, but meta encoding recurses past the stack
    hostile = [f'{{"text": {json.dumps(text)}, "tags": {deep}}}', f'{{"text": {json.dumps(text)}, "extra": {{"k": {deep}}}}}']
    p = tmp_path / "docs.jsonl"
    p.write_text("\n".join(lines[:6] + hostile + lines[6:]) + "\n", encoding="utf-8")
    reader = JsonlReader("d", "web", JsonlReader.Config(meta_fields=["tags"], meta_field="extra"))
    batches: list = []
    rest = reader.read(Unit(str(p)), sink=batches.append)  # streamed, as the runner reads: the batch survives
    kept = sum(b.kept.num_rows for b in batches) + rest.kept.num_rows
    errors = [r for b in batches + [rest] for r in b.errors.to_pylist()]
    assert kept == 12 and [(e["reason"], e["url"].rsplit("#", 1)[1]) for e in errors] == [
        ("input:too_deep", "7"), ("input:too_deep", "8")]


def _oracle_lines(kind: str, cut: bytes) -> int:
    """Complete lines in what a one-shot decompressor recovers from the cut file."""
    if kind == "zst":
        return zstandard.ZstdDecompressor().decompressobj().decompress(cut).count(b"\n")
    d = {"gz": lambda: zlib.decompressobj(31), "bz2": bz2.BZ2Decompressor, "xz": lzma.LZMADecompressor}[kind]()
    return d.decompress(cut).count(b"\n")


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zst"])
def test_a_cut_compressed_file_keeps_every_line_decoded_before_the_cut(corpus: Path, tmp_path: Path,
                                                                       kind: str) -> None:
    data = (corpus / "dedup" / "docs.jsonl").read_bytes()
    whole = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress,
             "zst": zstandard.ZstdCompressor().compress}[kind](data)
    cut = whole[: len(whole) * 6 // 10]
    (tmp_path / f"cut.jsonl.{kind}").write_bytes(cut)
    res = JsonlReader("d", "web").read(Unit(str(tmp_path / f"cut.jsonl.{kind}")))
    assert res.kept.num_rows == _oracle_lines(kind, cut) > 150  # before: up to 19 lines of a read block lost
    assert res.errors.column("reason").to_pylist() == ["error:EOFError"]  # zst: before, nothing said it was cut


def test_every_member_or_frame_is_read_and_a_zip_is_refused(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_bytes().splitlines(keepends=True)
    parts = [b"".join(lines[i:i + 50]) for i in range(0, 200, 50)]
    cz = zstandard.ZstdCompressor()
    (tmp_path / "frames.jsonl.zst").write_bytes(b"".join(cz.compress(p) for p in parts))  # pzstd-style frames
    (tmp_path / "members.jsonl.gz").write_bytes(b"".join(gzip.compress(p) for p in parts) + b"\0" * 512)
    (tmp_path / "junk.jsonl.gz").write_bytes(gzip.compress(parts[0]) + b"not gzip at all")
    with zipfile.ZipFile(tmp_path / "two.jsonl.zip", "w") as z:
        z.writestr("a.jsonl", parts[0])
        z.writestr("b.jsonl", parts[1])
    r = JsonlReader("d", "web")
    assert [_counts(r.read(Unit(str(tmp_path / n)))) for n in ("frames.jsonl.zst", "members.jsonl.gz")] == [
        (200, Counter(), Counter())] * 2  # before: zst stopped after its first frame (50 lines), silently
    assert _counts(r.read(Unit(str(tmp_path / "junk.jsonl.gz")))) == (50, Counter(), Counter(
        {"error:BadCompressedData": 1}))  # every line before the junk (before: 40 of 50)
    assert _counts(r.read(Unit(str(tmp_path / "two.jsonl.zip")))) == (  # before: b.jsonl was skipped silently
        0, Counter({"input:unsupported_compression": 1}), Counter())


def test_a_cut_compressed_book_is_an_error_not_a_fragment(corpus: Path, tmp_path: Path) -> None:
    book = gzip.compress((corpus / "books" / "pg84.txt").read_bytes())
    (tmp_path / "pg84.txt.gz").write_bytes(book[: len(book) // 2])
    assert _counts(BooksReader("b", "books").read(Unit(str(tmp_path / "pg84.txt.gz")))) == (
        0, Counter(), Counter({"error:EOFError": 1}))


def test_a_siteinfo_that_does_not_parse_costs_no_page(corpus: Path, tmp_path: Path) -> None:
    xml = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes())
    hostile = xml.replace(b"<siteinfo>", b'<siteinfo><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                                         b"<sitename>&xxe;</sitename>", 1)
    (tmp_path / "dump.xml").write_bytes(hostile)
    reader = WikiReader("wiki", "wiki")
    good = reader.read(Unit(str(corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2")))
    res = reader.read(Unit(str(tmp_path / "dump.xml")))
    assert res.errors.column("reason").to_pylist() == ["wiki:bad_siteinfo"]  # before: the whole dump, 1 error
    assert res.kept.column("text").to_pylist() == good.kept.column("text").to_pylist()  # all 70 articles
    assert res.dropped.num_rows == good.dropped.num_rows and res.kept.num_rows == 70
    assert not any("root:x:0:0" in t for t in res.kept.column("text").to_pylist())


def test_a_byte_order_mark_before_json_lines_is_not_part_of_the_first_record(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_bytes().splitlines(keepends=True)[:30]
    (tmp_path / "bom.jsonl").write_bytes(codecs.BOM_UTF8 + b"".join(lines))
    small = JsonlReader("d", "web", JsonlReader.Config(split_bytes=len(lines[0]) * 3))  # split units too
    for r in (JsonlReader("d", "web"), small):
        units = r.units([str(tmp_path / "bom.jsonl")])
        results = [r.read(u) for u in units]
        assert sum(x.kept.num_rows for x in results) == 30 and not any(x.errors.num_rows for x in results)


def test_a_standalone_command_glob_never_reads_a_link_out_of_its_root(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.jsonl").write_text("".join(lines[:5]), encoding="utf-8")
    (tmp_path / "secret.jsonl").write_text("".join(lines[100:104]), encoding="utf-8")
    (d / "b.jsonl").symlink_to(tmp_path / "secret.jsonl")
    (d / ".c.jsonl").symlink_to(d / "a.jsonl")  # a link inside the root: read like the file
    summary = run_recipe("t", [str(d / "*.jsonl"), str(d / ".*.jsonl")], [], tmp_path / "run")
    read = summary["stages"][0]
    assert (read["in"], read["kept"], read["dropped"]) == (11, 10, {"input:outside_root": 1})  # before: 14 kept
    texts = [t for p in sorted((tmp_path / "run" / "stages" / "00_read").glob("part-*.parquet"))
             for t in pq.read_table(p).column("text").to_pylist()]
    assert not any(json.loads(x)["text"] in texts for x in lines[100:104])


def test_a_glob_through_a_directory_link_out_of_its_root_reads_nothing_there(corpus: Path, tmp_path: Path) -> None:
    books, private = tmp_path / "books", tmp_path / "private"
    books.mkdir()
    private.mkdir()
    shutil.copy(corpus / "books" / "pg84.txt", books / "pg84.txt")
    shutil.copy(corpus / "books" / "pg64317.txt", private / "diary.txt")
    (books / "shelf").symlink_to(private, target_is_directory=True)
    (books / "root").symlink_to("/", target_is_directory=True)  # never walked: listed once and refused
    summary = Pipeline.from_dict({"name": "l", "workers": 0, "stages": [], "sources": [
        {"name": "a", "kind": "books", "format": "text", "paths": [str(books / "*")]},  # matches the links
        {"name": "b", "kind": "books", "format": "text", "paths": [str(books / "*" / "*.txt")]}]}).run(
        out=tmp_path / "run", workers=0, log=lambda m: None)
    read = summary["stages"][0]
    assert read["by_source"] == {"a": {"in": 3, "kept": 1, "dropped": 2}, "b": {"in": 1, "dropped": 1}}
    assert read["dropped"] == {"input:outside_root": 3}  # before: diary.txt was read through both patterns


def test_a_bad_parquet_row_group_or_value_costs_only_its_rows(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    texts = [json.loads(x)["text"] for x in lines]
    pq.write_table(pa.table({"text": texts}), tmp_path / "ok.parquet", row_group_size=10)
    raw = bytearray((tmp_path / "ok.parquet").read_bytes())
    chunk = pq.ParquetFile(tmp_path / "ok.parquet").metadata.row_group(1).column(0)
    page = chunk.dictionary_page_offset or chunk.data_page_offset
    raw[page + 40: page + 240] = b"\0" * 200  # a corrupt (dictionary) page in row group 1 of 4
    (tmp_path / "corrupt.parquet").write_bytes(bytes(raw))
    bad = [t.encode() for t in texts]
    bad[3], bad[25] = b"ok \xff\xfe not utf-8", b"\xed\xa0\x80"  # invalid UTF-8 in a string column
    pq.write_table(pa.table({"text": pa.array(bad, pa.binary()).view(pa.string())}), tmp_path / "utf8.parquet")
    r = ParquetReader("p", "web")
    res = r.read(Unit(str(tmp_path / "corrupt.parquet")))
    assert _counts(res) == (30, Counter(), Counter({"parquet:bad_row_group": 10}))  # before: 10 kept, 1 error
    assert res.kept.column("text").to_pylist() == texts[:10] + texts[20:]
    assert [decode_meta(m)["row"] for m in res.errors.column("meta").to_pylist()] == list(range(10, 20))
    res = r.read(Unit(str(tmp_path / "utf8.parquet")))
    assert _counts(res) == (38, Counter(), Counter({"error:UnicodeDecodeError": 2}))  # before: 0 kept, 1 error


@pytest.mark.parametrize("url,cause", [("http://127.0.0.1:9/docs.jsonl", "ClientConnectorError"),  # nothing listens
                                       ("nosuchproto://bucket/docs.jsonl", "Protocol not known"),
                                       ("s3://bucket/*.jsonl", "s3fs")])  # not installed
def test_a_remote_input_that_cannot_be_read_is_one_clear_error_at_planning(tmp_path: Path, url: str,
                                                                          cause: str) -> None:
    pipe = Pipeline.from_dict({"name": "u", "workers": 0, "stages": [], "sources": [
        {"name": "docs", "kind": "web", "format": "jsonl", "paths": [url]}]})
    with pytest.raises(RecipeError) as e:  # before: an ImportError, a bare URL, or exit 0 and one error row
        pipe.run(out=tmp_path / "run", workers=0, log=lambda m: None)
    assert str(e.value).startswith(f"sources[0] (docs).paths: remote input '{url}' cannot be read (")
    assert cause in str(e.value) and "\n" not in str(e.value)


def test_a_file_url_names_a_local_input(corpus: Path, tmp_path: Path) -> None:
    summary = Pipeline.from_dict({"name": "f", "workers": 0, "stages": [], "sources": [
        {"name": "docs", "kind": "web", "format": "jsonl", "paths": [f"file://{corpus}/dedup/docs.jsonl"]}]},
        base_dir=tmp_path).run(out=tmp_path / "run", workers=0, log=lambda m: None)
    assert summary["stages"][0]["kept"] == 400  # before: joined to the recipe's directory, "does not exist"


def test_a_warc_gzipped_whole_is_read_record_by_record(corpus: Path, tmp_path: Path) -> None:
    recs = _warc_records(corpus, 7)
    (tmp_path / "whole.warc.gz").write_bytes(gzip.compress(b"".join(recs)))  # one member, not one per record
    reader = WarcReader("web", "web")
    good = reader.read(Unit(str(corpus / "web" / "pages.warc.gz"))).kept.column("text").to_pylist()[:6]
    res = reader.read(Unit(str(tmp_path / "whole.warc.gz")))
    assert _counts(res) == (6, Counter({"warc:non_response": 1}), Counter())  # before: 0 kept, 1 error
    assert res.kept.column("text").to_pylist() == good


def test_utf16_without_a_byte_order_mark_is_text_not_binary(corpus: Path, stdlib_dir: Path, tmp_path: Path) -> None:
    text = (corpus / "books" / "pg84.txt").read_bytes().decode("cp1252")
    (tmp_path / "le.txt").write_bytes(text.encode("utf-16-le"))
    (tmp_path / "be.txt").write_bytes(text.encode("utf-16-be"))
    r = BooksReader("books", "books")
    want = r.read(Unit(str(corpus / "books" / "pg84.txt"))).kept.column("text").to_pylist()
    for name in ("le.txt", "be.txt"):  # before: books:binary (the NUL bytes)
        assert r.read(Unit(str(tmp_path / name))).kept.column("text").to_pylist() == want
    repo = tmp_path / "repo"
    repo.mkdir()
    source = (stdlib_dir / "json" / "encoder.py").read_text(encoding="utf-8")
    (repo / "bom.py").write_bytes(source.encode("utf-16"))  # with a BOM (Windows editors)
    (repo / "nobom.py").write_bytes(source.encode("utf-16-le"))
    shutil.copy(Path(sys.executable).resolve(), repo / "python.py")  # still binary
    res = CodeReader("code", "code").read(Unit(str(repo)))
    assert res.kept.column("text").to_pylist() == [source, source]  # before: both code:binary
    assert res.dropped.column("reason").to_pylist() == ["code:binary"]


def test_a_gzip_member_holding_only_record_headers_is_counted(corpus: Path, tmp_path: Path) -> None:
    recs = _warc_records(corpus, 7)
    recs[3] = recs[3][: recs[3].index(b"\r\n\r\n") + 2]  # WARC headers, then the member ends: no block at all
    (tmp_path / "cut.warc.gz").write_bytes(b"".join(gzip.compress(r) for r in recs))
    res = WarcReader("web", "web").read(Unit(str(tmp_path / "cut.warc.gz")))
    # before: warcio took it for an empty member and skipped it, so it vanished from every count
    assert _counts(res) == (5, Counter({"warc:non_response": 1}), Counter({"warc:unparsed": 1}))


def test_a_file_whose_name_holds_glob_characters_can_be_named(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "page[1].jsonl").write_text("".join(lines[:3]), encoding="utf-8")
    (tmp_path / "page1.jsonl").write_text("".join(lines[3:5]), encoding="utf-8")  # what the glob would match
    assert expand_paths([str(tmp_path / "page[1].jsonl")], "paths") == [str(tmp_path / "page[1].jsonl")]
    assert expand_paths([str(tmp_path / "page[0-9].jsonl")], "paths") == [str(tmp_path / "page1.jsonl")]
