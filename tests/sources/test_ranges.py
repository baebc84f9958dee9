"""Issue 26: a file is cut into record-aligned byte ranges sized to the job (not only past ``split_bytes``),
and every record is read by exactly the one range that holds its start: the ranges' rows, in order, are
the whole file's rows (WARC, WET, uncompressed WARC, JSONL, Parquet), on real corpus files and on the same
files damaged (a cut member, a lying Content-Length, a whole-file gzip, tiny and empty files)."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import re
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from warcio.warcwriter import WARCWriter

from curate.pipeline import Pipeline
from curate.runplan import (
    READ_TASKS,
    pack_units,
    plan_units,
    read_task_bytes,
    unit_text_bytes,
)
from curate.sources.base import MIN_RANGE_BYTES, TAPER_RANGES, Unit, range_step
from curate.sources.tabular import JsonlReader, ParquetReader
from curate.sources.warc import WarcReader, record_cuts


def _rows(reader, units: list[Unit]) -> dict[str, list]:
    """Kept rows, and (reason, location) of dropped and errored rows, of ``units`` read in order."""
    out: dict[str, list] = {"kept": [], "dropped": [], "errors": []}
    for u in units:
        res = reader.read(u)
        out["kept"] += [(r["id"], r["url"], r["text"]) for r in res.kept.to_pylist()]
        out["dropped"] += [(r["reason"], r["url"]) for r in res.dropped.to_pylist()]
        out["errors"] += [(r["reason"], r["url"]) for r in res.errors.to_pylist()]
    return out


def _same_as_whole(reader, path: Path, ranges: int = READ_TASKS, at_least: int = 2) -> dict[str, list]:
    units = reader.units([str(path)], ranges=ranges)
    assert len(units) >= at_least and units[0].start == 0 and units[-1].end is None
    assert all(a.end == b.start for a, b in itertools.pairwise(units))  # contiguous: no byte unread, none twice
    whole = _rows(reader, [Unit(str(path))])
    assert _rows(reader, units) == whole
    return whole


def _planned(size: int) -> int:
    """Ranges of a file of ``size`` bytes at the floor, every window holding a record start: one per
    ``MIN_RANGE_BYTES`` window, of which the last ``TAPER_RANGES`` are cut again at half the step."""
    windows = size // MIN_RANGE_BYTES
    return windows if windows <= TAPER_RANGES else size // (MIN_RANGE_BYTES // 2) - windows + TAPER_RANGES


def _members(data: bytes) -> list[int]:
    """Offsets of the gzip members of ``data``, found by inflating each to its end."""
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        d = zlib.decompressobj(31)
        d.decompress(data[pos:])
        pos = len(data) - len(d.unused_data)
    return starts


def test_range_step_is_sized_to_the_job_with_a_floor() -> None:
    assert range_step(15_000_000, 1, 256 << 20) == 256 << 20  # ranges=1: the old rule (split_bytes only)
    assert range_step(15_000_000, 32, 256 << 20) == MIN_RANGE_BYTES  # a small job: the floor
    assert range_step(3_200_000_000, 32, 256 << 20) == 100_000_000
    assert range_step(10**12, 32, 256 << 20) == 256 << 20  # never above split_bytes


def test_warc_ranges_follow_the_job_size_and_read_like_the_whole_file(corpus: Path) -> None:
    path = corpus / "web" / "pages.warc.gz"
    reader = WarcReader("web", "web")
    assert reader.units([str(path)]) == [Unit(str(path))]  # without ranges: one unit, as before
    units = plan_units(reader, [str(path)])  # what a run plans: 5.6 MB in ranges at the floor, the last ones halved
    assert len(units) == _planned(path.stat().st_size) == 15
    sizes = [(u.end or path.stat().st_size) - u.start for u in units]
    tail = len(units) - (path.stat().st_size // MIN_RANGE_BYTES - TAPER_RANGES)
    # the half ranges are the smallest: tasks going biggest first run them last
    assert max(sizes[-tail:]) < min(sizes[:-tail])
    members = set(_members(path.read_bytes()))
    assert all(u.start in members for u in units)  # every cut is a gzip member start
    whole = _same_as_whole(reader, path)
    assert len(whole["kept"]) == 256 and whole["dropped"] == [("warc:non_response", None)]
    many = WarcReader("web", "web", WarcReader.Config(split_bytes=60_000))  # a range per record or two
    _same_as_whole(many, path, at_least=60)


def test_a_cut_on_a_member_boundary_stays_there_and_one_inside_a_record_moves_to_the_next(corpus: Path) -> None:
    path = corpus / "web" / "pages.warc.gz"
    members = _members(path.read_bytes())
    b, nxt = members[40], members[41]
    with open(path, "rb") as f:
        size = path.stat().st_size
        assert record_cuts(f, size, b)[1] == b  # the window starts on a record: cut there
        assert record_cuts(f, size, b + 1)[1] == nxt  # inside record 40: its start is in the range before
        assert record_cuts(f, size, nxt - 1)[1] == nxt  # the last byte of a record


def test_truncated_last_member_and_lying_length_are_read_by_the_range_before(corpus: Path, tmp_path: Path) -> None:
    data = (corpus / "web" / "pages.warc.gz").read_bytes()
    members = _members(data)
    reader = WarcReader("web", "web", WarcReader.Config(split_bytes=200_000))
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: members[-1] + (len(data) - members[-1]) // 2])  # the last member ends mid-record
    whole = _same_as_whole(reader, cut, at_least=10)
    assert len(whole["kept"]) == 255 and len(whole["errors"]) == 1
    with open(cut, "rb") as f:
        assert members[-1] not in record_cuts(f, cut.stat().st_size, 200_000)

    k = next(i for i in range(len(members)) if members[i] > 1_000_000)  # a record a range would start on
    text = gzip.decompress(data[members[k] : members[k + 1]])
    n = int(re.search(rb"Content-Length: (\d+)", text).group(1))
    lying = text.replace(b"Content-Length: %d" % n, b"Content-Length: %d" % (n - 100), 1)
    bad = tmp_path / "lying.warc.gz"
    bad.write_bytes(data[: members[k]] + gzip.compress(lying) + data[members[k + 1] :])
    with open(bad, "rb") as f:  # a window opening just before the lying record: the cut is the record after it
        assert record_cuts(f, bad.stat().st_size, members[k] - 1)[1] == members[k] + len(gzip.compress(lying))
    whole = _same_as_whole(reader, bad, at_least=10)
    assert [r for r, _ in whole["errors"]] == ["warc:length_mismatch"] and len(whole["kept"]) == 255


def test_whole_file_gzip_tiny_and_empty_files_stay_one_unit(corpus: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    reader = WarcReader("web", "web", WarcReader.Config(split_bytes=100_000))
    one = tmp_path / "one-member.warc.gz"
    one.write_bytes(gzip.compress(gzip.decompress((corpus / "web" / "pages.warc.gz").read_bytes())))
    monkeypatch.setenv("CURATE_DEBUG", "1")
    assert reader.units([str(one)], ranges=32) == [Unit(str(one))]
    assert "one unit: no record start checks out after offset 0" in capsys.readouterr().err
    assert len(_rows(reader, [Unit(str(one))])["kept"]) == 256
    monkeypatch.delenv("CURATE_DEBUG")
    assert reader.units([str(one)], ranges=32) == [Unit(str(one))] and not capsys.readouterr().err
    tiny = corpus / "web" / "whirlwind.warc.gz"  # 19 kB: under the floor
    assert WarcReader("web", "web").units([str(tiny)], ranges=32) == [Unit(str(tiny))]
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert reader.units([str(empty)], ranges=32) == [Unit(str(empty))]
    assert _rows(reader, [Unit(str(empty))])["dropped"] == [("input:no_records", str(empty))]


def test_uncompressed_warc_ranges(corpus: Path, tmp_path: Path) -> None:
    plain = tmp_path / "pages.warc"
    plain.write_bytes(gzip.decompress((corpus / "web" / "pages.warc.gz").read_bytes()))
    reader = WarcReader("web", "web", WarcReader.Config(split_bytes=500_000))
    units = reader.units([str(plain)], ranges=32)
    data = plain.read_bytes()
    assert all(
        data[u.start : u.start + 7] == b"WARC/1." and data[u.start - 4 : u.start] == b"\r\n\r\n" for u in units[1:]
    )
    assert len(_same_as_whole(reader, plain, at_least=20)["kept"]) == 256


def test_wet_conversion_records_split_like_common_crawl_wet(corpus: Path, tmp_path: Path) -> None:
    """A WET file as Common Crawl writes them (a gzip member per ``conversion`` record) of the corpus's
    real texts."""
    docs = [json.loads(line) for line in (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()]
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for i, d in enumerate(docs):
        writer.write_record(
            writer.create_warc_record(
                f"https://example.org/{i}",
                "conversion",
                payload=io.BytesIO(d["text"].encode("utf-8")),
                warc_content_type="text/plain",
            )
        )
    wet = tmp_path / "docs.warc.wet.gz"
    wet.write_bytes(buf.getvalue())
    whole = _same_as_whole(WarcReader("web", "web", WarcReader.Config(split_bytes=50_000)), wet, at_least=8)
    assert [t for _, _, t in whole["kept"]] == [d["text"].strip() for d in docs if d["text"].strip()]


def test_jsonl_and_parquet_ranges(corpus: Path, tmp_path: Path) -> None:
    one = (corpus / "dedup" / "docs.jsonl").read_bytes()
    data = one * 2
    src = tmp_path / "docs.jsonl"
    src.write_bytes(data)  # 3.2 MB: ranges at the floor, each cut after a newline
    reader = JsonlReader("d", "web")
    small = tmp_path / "small.jsonl"
    small.write_bytes(one[: one.rindex(b"\n", 0, 2 * MIN_RANGE_BYTES - 1) + 1])
    assert reader.units([str(small)], ranges=READ_TASKS) == [
        Unit(str(small))
    ]  # a second range would be under the floor
    units = reader.units([str(src)], ranges=READ_TASKS)
    # line cuts follow each other (a step after the last), so the halved tail need not fall on the windows
    assert len(data) // MIN_RANGE_BYTES < len(units) <= _planned(len(data))
    assert all(data[u.start - 1 : u.start] == b"\n" for u in units[1:])
    assert all(data.count(b"\n", 0, u.start) == u.first_record for u in units)  # lines numbered file-wide
    assert len(_same_as_whole(reader, src)["kept"]) == 800
    gz = tmp_path / "docs.jsonl.gz"
    gz.write_bytes(gzip.compress(data))
    assert reader.units([str(gz)], ranges=READ_TASKS) == [Unit(str(gz))]  # a gzip stream: one unit
    texts = [json.loads(line)["text"] for line in data.splitlines()]
    p = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"text": texts}), p, row_group_size=50, compression="none")  # 3.2 MB, 16 row groups
    _same_as_whole(ParquetReader("p", "web"), p, at_least=2)


def test_a_job_of_a_few_files_is_packed_into_a_task_per_worker(corpus: Path) -> None:
    books = [("b", Unit(str(p))) for p in sorted((corpus / "books").glob("*.txt"))]
    total = sum(unit_text_bytes(u) for _, u in books)  # 13 books, 6.4 MB of text
    budget = read_task_bytes(books, 64 << 20)
    assert budget == max(2 * MIN_RANGE_BYTES, -(-total // READ_TASKS))
    assert (
        len(pack_units(books, 64 << 20)) == 1
    )  # a 64 MiB budget would put every book in one task; the job-sized budget below spreads them
    packs = pack_units(books, budget)
    assert len(packs) >= 4 and [u for p in packs for u in p] == books
    assert all(len(p) == 1 or sum(unit_text_bytes(u) for _, u in p) <= budget for p in packs)


def _run(corpus: Path, out: Path, workers: int) -> dict[str, bytes]:
    r = {
        "name": "ranges",
        "seed": 3,
        "workers": workers,
        "sources": [{"name": "web", "kind": "web", "format": "warc", "paths": [str(corpus / "web" / "pages.warc.gz")]}],
        "stages": [{"extract": {}}, {"dedup_exact": {}}],
    }
    s = Pipeline.from_dict(r).run(out=out, log=lambda m: None)
    warc = (corpus / "web" / "pages.warc.gz").stat().st_size
    assert s["reconciles"] and s["stages"][0]["parts"] == _planned(warc)  # the 5.6 MB WARC: 15 ranges
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("*/*/part-*.parquet"))}


def test_one_and_two_workers_write_the_same_bytes_and_resume_per_range(corpus: Path, tmp_path: Path) -> None:
    one = _run(corpus, tmp_path / "w1", 1)
    assert _run(corpus, tmp_path / "w2", 2) == one  # every part of every step, dropped and errors too
    (tmp_path / "w1" / "_state" / "01_extract" / "parts" / "part-00002.json").unlink()  # one range's part lost
    s = Pipeline.from_dict(json.loads((tmp_path / "w1" / "recipe.json").read_text())["recipe"]).run(
        out=tmp_path / "w1", workers=0, log=lambda m: None
    )
    assert s["stages"][0]["resumed_parts"] == s["stages"][0]["parts"] - 1  # only that range is read again
    assert {
        str(p.relative_to(tmp_path / "w1")): p.read_bytes()
        for p in sorted((tmp_path / "w1").glob("*/*/part-*.parquet"))
    } == one
