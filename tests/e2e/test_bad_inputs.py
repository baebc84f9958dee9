"""The bad-input suite. The promise: whatever the input, a run never crashes, hangs, reads outside its
sources or loses a record silently. Every record that enters a stage leaves it exactly once: kept,
dropped with a reason, or errored with a reason, counted per record (``in == kept + dropped + errored``
for every stage and every source), and a bad record costs only itself: the records around it are read.
A bad recipe or a failing disk ends in one clear line naming the key or the fault.

This file checks the promise end to end on a mix of broken real inputs, with exact counts; the
``test_reliability_*.py`` files check it class by class (issue 14): paths and special files, bounds,
records as the unit of failure, decoding, unique ids, recipes and settings."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import random
import shutil
import sys
from pathlib import Path

import pytest

from curate.pipeline import Pipeline

BOMB_XML = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
<page><title>Bomb</title><ns>0</ns><id>1</id><revision><id>1</id><text xml:space="preserve">&lol9;</text></revision></page>
</mediawiki>
"""


def _warc_with_payloads(path: Path) -> int:
    """A WARC whose responses are a PNG image, an ELF binary labelled as HTML, and a 404 page."""
    import matplotlib
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    png = next(Path(matplotlib.get_data_path()).rglob("*.png")).read_bytes()
    elf = Path(sys.executable).resolve().read_bytes()[:200_000]
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        for url, status, ctype, body in [
            ("https://example.org/a.png", "200 OK", "image/png", png),
            ("https://example.org/bin", "200 OK", "text/html", elf),
            ("https://example.org/missing", "404 Not Found", "text/html", png[:10]),
        ]:
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    return 3


@pytest.fixture(scope="module")
def bad_dir(corpus, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    for sub in ("web", "wiki", "books", "code", "jsonl"):
        (d / sub).mkdir()
    warc = (corpus / "web" / "pages.warc.gz").read_bytes()
    (d / "web" / "truncated.warc.gz").write_bytes(warc[: len(warc) * 6 // 10])
    raw = bytearray(gzip.decompress(warc))
    rng = random.Random(5)
    for _ in range(3):  # garble three stretches inside records
        at = rng.randrange(len(raw) // 4, len(raw) - 500)
        raw[at : at + 300] = bytes(rng.randrange(256) for _ in range(300))
    (d / "web" / "garbled.warc").write_bytes(bytes(raw))
    _warc_with_payloads(d / "web" / "payloads.warc.gz")
    (d / "web" / "empty.warc.gz").write_bytes(b"")
    with gzip.open(d / "web" / "bomb.warc.gz", "wb", compresslevel=9) as g:  # 1 GiB of zeros in ~1 MB
        chunk = b"\0" * (1 << 20)
        for _ in range(1024):
            g.write(chunk)
    (d / "wiki" / "bomb.xml").write_bytes(BOMB_XML)
    (d / "wiki" / "empty.xml.bz2").write_bytes(b"")
    wiki = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes())
    (d / "wiki" / "truncated.xml.bz2").write_bytes(bz2.compress(wiki[: len(wiki) // 2]))
    book = (corpus / "books" / "pg84.txt").read_bytes()
    bad_utf8 = bytearray(book)
    for i in range(1000, len(bad_utf8), 5000):
        bad_utf8[i : i + 2] = b"\xff\xfe"
    (d / "books" / "bad_utf8.txt").write_bytes(bytes(bad_utf8))
    (d / "books" / "empty.txt").write_bytes(b"")
    big = (corpus / "books" / "pg2000.txt").read_bytes()  # a real book, repeated to 100 MB
    with open(d / "books" / "huge.txt", "wb") as f:
        for _ in range(100 * (1 << 20) // len(big) + 1):
            f.write(big)
    repo = d / "code" / "repo"
    repo.mkdir()
    shutil.copy(Path(json.__file__).parent / "decoder.py", repo / "decoder.py")
    shutil.copy(Path(sys.executable).resolve(), repo / "python.py")  # binary under a source name
    (repo / "empty_dir").mkdir()
    (d / "jsonl" / "docs.jsonl").write_text(
        "\n".join(l for l in (corpus / "dedup" / "docs.jsonl").read_text().splitlines()[:20])
        + "\n{not json\n"
        + json.dumps({"id": "x", "text": None})
        + "\n",
        encoding="utf-8",
    )
    with gzip.open(d / "jsonl" / "bomb.jsonl.gz", "wb", compresslevel=9) as g:
        for _ in range(512):
            g.write(b"\0" * (1 << 20))
    return d


def _recipe(d: Path) -> dict:
    return {
        "name": "bad",
        "seed": 3,
        "workers": 2,
        "sources": [
            {"name": "web", "kind": "web", "format": "warc", "paths": [str(d / "web" / "*")]},
            {"name": "wiki", "kind": "wiki", "format": "mediawiki", "paths": [str(d / "wiki" / "*")]},
            {"name": "books", "kind": "books", "format": "text", "paths": [str(d / "books" / "*.txt")]},
            {"name": "code", "kind": "code", "format": "code", "paths": [str(d / "code")]},
            {"name": "docs", "kind": "web", "format": "jsonl", "paths": [str(d / "jsonl" / "*")]},
        ],
        "stages": [
            {"extract": {}, "only": ["web"]},
            {"langid": {}},
            {"heuristics": {}, "only": ["web"]},
            {"dedup_exact": {}},
            {"dedup": {"threshold": 0.8}},
            {"mix": {"weights": {"web": 0.5, "books": 0.3, "wiki": 0.1, "code": 0.05, "docs": 0.05}}},
            {"tokenize": {"vocab_size": 1000, "sample_chars": 2_000_000}},
        ],
    }


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_bad_inputs_are_counted_never_crash(bad_dir, tmp_path):
    summary = Pipeline.from_dict(_recipe(bad_dir)).run(out=tmp_path / "run", log=lambda m: None)
    assert summary["reconciles"]
    for st in summary["stages"]:
        assert st["in"] == st["kept"] + st["dropped_total"] + st["errors_total"], st["dir"]
    for prev, st in zip(summary["stages"], summary["stages"][1:]):
        assert st["in"] == prev["kept"], st["dir"]  # nothing vanishes between stages
    read = summary["stages"][0]
    # each broken input is counted under its own reason, per record, exactly
    assert read["dropped"] == {
        "books:empty": 1,
        "code:binary": 1,
        "content:binary": 1,
        "content_type:image/png": 1,
        "http_status:404": 1,
        "input:no_records": 1,
        "tabular:missing_text": 1,
        "warc:non_response": 2,
    }
    assert read["errors"] == {
        "error:ArchiveLoadFailed": 1,  # the gzip bomb: one unparseable record
        "error:EOFError": 1,  # the empty .xml.bz2
        "error:XMLSyntaxError": 1,  # the entity bomb's page (never expanded)
        "jsonl:malformed": 1,
        "jsonl:oversized": 1,  # a broken line, the 512 MiB bomb line
        "warc:truncated": 1,
        "wiki:truncated": 1,
    }
    # the good records around the damage still come through
    assert read["by_source"] == {
        "books": {"dropped": 1, "in": 3, "kept": 2},
        "code": {"dropped": 1, "in": 2, "kept": 1},
        "docs": {"dropped": 1, "errors": 2, "in": 23, "kept": 20},
        "web": {"dropped": 6, "errors": 2, "in": 402, "kept": 394},
        "wiki": {"errors": 3, "in": 55, "kept": 52},
    }
    assert (read["in"], read["kept"], read["sources_without_documents"]) == (485, 469, [])
    (tmp_path / "run" / "summary.json").read_text()  # written
