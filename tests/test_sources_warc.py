"""WarcReader on the real WARC/WET/WAT files, byte-range splitting, remote reads, corrupt inputs."""
from __future__ import annotations

import functools
import gzip
import http.server
import json
import threading
from collections import Counter
from pathlib import Path

import pytest

from curate.schema import decode_meta
from curate.sources.base import Unit
from curate.sources.warc import WarcReader


def read_all(path: str, **cfg) -> tuple[list[dict], Counter, Counter]:
    r = WarcReader("web", "web", WarcReader.Config(**cfg))
    kept, dropped, errors = [], Counter(), Counter()
    for u in r.units([path]):
        res = r.read(u)
        kept += res.kept.to_pylist()
        dropped.update(res.dropped.column("reason").to_pylist())
        errors.update(res.errors.column("reason").to_pylist())
    return kept, dropped, errors


def test_pages_warc_every_record_accounted(corpus: Path) -> None:
    kept, dropped, errors = read_all(str(corpus / "web" / "pages.warc.gz"))
    assert len(kept) == 256 and dropped == {"warc:non_response": 1} and not errors  # 1 warcinfo + 256 responses
    urls = {json.loads(line)["url"] for line in (corpus / "web" / "pages.jsonl").read_text().splitlines()}
    assert {d["url"] for d in kept} == urls
    m = json.loads(kept[0]["meta"])
    assert m["warc_record_id"].startswith("<urn:uuid:") and m["http_status"] == "200" and m["warc_date"]
    assert len({d["id"] for d in kept}) == 256
    by_file = {json.loads(line)["url"]: json.loads(line) for line in (corpus / "web" / "pages.jsonl").read_text()
               .splitlines()}
    for d in kept:  # decoded text contains the annotated main-text snippets
        for s in by_file[d["url"]]["expected_with"][:1]:
            assert s.split()[0] in d["text"]


def test_whirlwind_warc_wet_wat(corpus: Path) -> None:
    kept, dropped, errors = read_all(str(corpus / "web" / "whirlwind.warc.gz"))
    assert len(kept) == 1 and dropped == {"warc:non_response": 3} and not errors
    assert kept[0]["url"] == "https://an.wikipedia.org/wiki/Escopete"
    assert json.loads(kept[0]["meta"])["warc_date"] == "2024-05-18T01:58:10Z"
    kept, dropped, _ = read_all(str(corpus / "web" / "whirlwind.warc.wet.gz"))
    assert len(kept) == 1 and json.loads(kept[0]["meta"])["extracted"] == 1 and "Escopete" in kept[0]["text"]
    kept, dropped, _ = read_all(str(corpus / "web" / "whirlwind.warc.wat.gz"))
    assert not kept and dropped == {"warc:non_response": 2}


def test_split_into_byte_ranges_equals_whole(corpus: Path) -> None:
    path = str(corpus / "web" / "pages.warc.gz")
    units = WarcReader("web", "web", WarcReader.Config(split_bytes=400_000)).units([path])
    assert len(units) > 5 and units[0].start == 0 and units[-1].end is None
    whole, d1, _ = read_all(path)
    split, d2, _ = read_all(path, split_bytes=400_000)
    assert [d["id"] for d in split] == [d["id"] for d in whole] and d1 == d2


def test_split_uncompressed_warc(corpus: Path, tmp_path: Path) -> None:
    plain = tmp_path / "pages.warc"
    plain.write_bytes(gzip.decompress((corpus / "web" / "pages.warc.gz").read_bytes()))
    whole, _, _ = read_all(str(plain))
    split, _, errors = read_all(str(plain), split_bytes=1_000_000)
    assert len(whole) == 256 and [d["id"] for d in split] == [d["id"] for d in whole] and not errors


def test_truncated_gzip_keeps_earlier_records(corpus: Path, tmp_path: Path) -> None:
    data = (corpus / "web" / "pages.warc.gz").read_bytes()
    bad = tmp_path / "trunc.warc.gz"
    bad.write_bytes(data[: len(data) // 2])
    kept, dropped, errors = read_all(str(bad))
    assert 50 < len(kept) < 256 and sum(errors.values()) >= 1


def test_garbled_record_is_counted_and_reading_resumes(corpus: Path, tmp_path: Path) -> None:
    data = bytearray((corpus / "web" / "pages.warc.gz").read_bytes())
    units = WarcReader("web", "web", WarcReader.Config(split_bytes=1_000_000)).units([str(corpus / "web" /
                                                                                          "pages.warc.gz")])
    mid = units[2].start  # a real record start: garble its gzip member
    data[mid + 20: mid + 60] = b"\x00" * 40
    bad = tmp_path / "garbled.warc.gz"
    bad.write_bytes(bytes(data))
    kept, dropped, errors = read_all(str(bad))
    assert sum(errors.values()) == 1 and len(kept) == 255  # only the garbled one lost, and counted


def test_empty_and_non_warc_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    kept, dropped, errors = read_all(str(empty))
    assert not kept and dropped == {"input:no_records": 1} and not errors  # reported, not skipped
    junk = tmp_path / "junk.warc"
    junk.write_bytes(b"\xff\xfe not a warc at all \x00\x01" * 50)
    kept, dropped, errors = read_all(str(junk))  # warcio reads it as a broken ARC record: counted, not kept
    assert not kept and sum(errors.values()) + sum(dropped.values()) >= 1
    missing = WarcReader("web", "web").read(Unit(str(tmp_path / "missing.warc.gz")))
    assert missing.errors.column("reason").to_pylist() == ["error:FileNotFoundError"]


def test_non_200_and_non_html_dropped_with_reason(tmp_path: Path) -> None:
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "mixed.warc.gz"
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for status, ctype, body in [("404 Not Found", "text/html", b"<html>gone</html>"),
                                    ("200 OK", "image/png", b"\x89PNG"),
                                    ("200 OK", "text/html; charset=iso-8859-1", "<p>caf\xe9</p>".encode("latin-1")),
                                    ("200 OK", "text/html", b"<html><p>bad \xff utf8</p></html>")]:
            hdr = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record("http://example.com/", "response", payload=BytesIO(body),
                                                http_headers=hdr))
    kept, dropped, errors = read_all(str(path))
    assert dropped == {"http_status:404": 1, "content_type:image/png": 1} and not errors
    assert kept[0]["text"] == "<p>café</p>" and json.loads(kept[0]["meta"])["charset_source"] == "http"
    assert json.loads(kept[1]["meta"])["charset"] == "cp1252" and json.loads(kept[1]["meta"])["charset_source"] == "fallback"


@pytest.fixture()
def http_corpus(corpus: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(corpus))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_remote_http_read_equals_local(corpus: Path, http_corpus: str) -> None:
    local, _, _ = read_all(str(corpus / "web" / "whirlwind.warc.gz"))
    remote, dropped, errors = read_all(f"{http_corpus}/web/whirlwind.warc.gz")
    # the same records (ids differ: a document id names its file, so copies of a file never share ids)
    assert [(d["text"], decode_meta(d["meta"])["warc_record_id"]) for d in remote] == \
        [(d["text"], decode_meta(d["meta"])["warc_record_id"]) for d in local] and dropped == {"warc:non_response": 3}


def test_remote_retries_transient_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.sources import _util

    calls, sleeps = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset")
        return "ok"

    monkeypatch.setattr(_util.time, "sleep", sleeps.append)
    assert _util.with_retries("http://127.0.0.1/x", flaky, attempts=4, backoff_s=0.5) == "ok"
    assert len(calls) == 3 and sleeps == [0.5, 1.0]  # exponential backoff
    with pytest.raises(ConnectionError):
        _util.with_retries("http://127.0.0.1/x", lambda: (_ for _ in ()).throw(ConnectionError()), attempts=2)
