"""Issue 14, second sweep of the input readers (hostile inputs the first sweep did not cover), on real data
made hostile: WARC records whose Content-Length is missing or runs past the end of the file, compressed
files cut short (every record decoded before the cut is read), meta nested past the stack, a corrupt or
non-UTF-8 Parquet row group, a siteinfo that does not parse, a byte order mark before JSON Lines, links
out of the root matched by a standalone command's glob. Each costs only its own records, counted.
"""
from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from curate.sources.base import Unit
from curate.sources.tabular import JsonlReader
from curate.sources.warc import WarcReader


def _warc_records(corpus: Path, n: int) -> list[bytes]:
    """The first ``n`` records of the real pages.warc.gz (warcinfo, then responses), uncompressed."""
    raw = gzip.decompress((corpus / "web" / "pages.warc.gz").read_bytes())
    starts = [m.start() for m in re.finditer(rb"WARC/1\.0\r\n", raw)]
    return [raw[a:b] for a, b in zip(starts, starts[1:] + [len(raw)])][:n]


def _counts(res) -> tuple[int, Counter, Counter]:
    return (res.kept.num_rows, Counter(res.dropped.column("reason").to_pylist()),
            Counter(res.errors.column("reason").to_pylist()))


@pytest.mark.parametrize("length", [None, b"99999999999999", b"-50", b""])
def test_a_plain_warc_record_without_a_usable_length_never_swallows_the_next(corpus: Path, tmp_path: Path,
                                                                             length: bytes | None) -> None:
    recs = _warc_records(corpus, 7)  # warcinfo + 6 pages
    if length is None:
        recs[3] = re.sub(rb"Content-Length: \d+\r\n", b"", recs[3], count=1)
    else:
        recs[3] = re.sub(rb"Content-Length: \d+", b"Content-Length: " + length, recs[3], count=1)
    path = tmp_path / "lie.warc"
    path.write_bytes(b"".join(recs))
    reader = WarcReader("web", "web")
    good = reader.read(Unit(str(corpus / "web" / "pages.warc.gz"))).kept.column("text").to_pylist()[:6]
    res = reader.read(Unit(str(path)))
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
