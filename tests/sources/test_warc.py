"""WarcReader on the real WARC/WET/WAT files: byte-range splitting, remote reads, and hostile records built
from the real ones. A byte order mark decides the encoding, only WHATWG labels are honoured from a charset header
or meta tag; a Content-Length that lies or is missing costs its own record only; gzip/deflate/br bodies decode;
a file gzipped whole, a member of several records or of headers only, truncated or garbled files are read
record by record, every record counted.
"""

from __future__ import annotations

import codecs
import functools
import gzip
import http.server
import io
import json
import re
import threading
import zlib
from collections import Counter
from pathlib import Path

import brotli
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curate.schema import decode_meta
from curate.sources.base import Unit
from curate.sources.charset import decode_html
from curate.sources.warc import WarcReader
from tests.support.readers import counts, read_units


def read_all(path: str, **cfg) -> tuple[list[dict], Counter, Counter]:
    return read_units(WarcReader("web", "web", WarcReader.Config(**cfg)), [path])


def test_pages_warc_every_record_accounted(corpus: Path) -> None:
    kept, dropped, errors = read_all(str(corpus / "web" / "pages.warc.gz"))
    assert len(kept) == 256 and dropped == {"warc:non_response": 1} and not errors  # 1 warcinfo + 256 responses
    urls = {json.loads(line)["url"] for line in (corpus / "web" / "pages.jsonl").read_text().splitlines()}
    assert {d["url"] for d in kept} == urls
    m = json.loads(kept[0]["meta"])
    assert m["warc_record_id"].startswith("<urn:uuid:") and m["http_status"] == "200" and m["warc_date"]
    assert len({d["id"] for d in kept}) == 256
    by_file = {
        json.loads(line)["url"]: json.loads(line) for line in (corpus / "web" / "pages.jsonl").read_text().splitlines()
    }
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
    units = WarcReader("web", "web", WarcReader.Config(split_bytes=1_000_000)).units(
        [str(corpus / "web" / "pages.warc.gz")]
    )
    mid = units[2].start  # a real record start: garble its gzip member
    data[mid + 20 : mid + 60] = b"\x00" * 40
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
        for status, ctype, body in [
            ("404 Not Found", "text/html", b"<html>gone</html>"),
            ("200 OK", "image/png", b"\x89PNG"),
            ("200 OK", "text/html; charset=iso-8859-1", "<p>caf\xe9</p>".encode("latin-1")),
            ("200 OK", "text/html", b"<html><p>bad \xff utf8</p></html>"),
        ]:
            hdr = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            w.write_record(
                w.create_warc_record("http://example.com/", "response", payload=BytesIO(body), http_headers=hdr)
            )
    kept, dropped, errors = read_all(str(path))
    assert dropped == {"http_status:404": 1, "content_type:image/png": 1} and not errors
    assert kept[0]["text"] == "<p>café</p>" and json.loads(kept[0]["meta"])["charset_source"] == "http"
    assert (
        json.loads(kept[1]["meta"])["charset"] == "cp1252"
        and json.loads(kept[1]["meta"])["charset_source"] == "fallback"
    )


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
    assert [(d["text"], decode_meta(d["meta"])["warc_record_id"]) for d in remote] == [
        (d["text"], decode_meta(d["meta"])["warc_record_id"]) for d in local
    ] and dropped == {"warc:non_response": 3}


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


def _utf8_pages(corpus: Path, n: int) -> list[str]:
    """Real pages that are valid UTF-8 and hold non-ASCII text."""
    out = []
    for p in sorted((corpus / "web" / "html").glob("*.html")):
        try:
            text = p.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not text.isascii() and "\x00" not in text:
            out.append(text)
        if len(out) == n:
            return out
    raise AssertionError("not enough real UTF-8 pages")


def _warc(path: Path, bodies: list[tuple[bytes, list[tuple[str, str]]]], gz: bool = True) -> None:
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=gz)
        for i, (body, headers) in enumerate(bodies):
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            w.write_record(
                w.create_warc_record(
                    f"https://example.org/{i}", "response", payload=io.BytesIO(body), http_headers=http
                )
            )


def _read(path: Path) -> tuple[list[dict], Counter, Counter]:
    res = WarcReader("web", "web").read(Unit(str(path)))
    return (
        res.kept.to_pylist(),
        Counter(res.dropped.column("reason").to_pylist()),
        Counter(res.errors.column("reason").to_pylist()),
    )


def test_utf16_pages_with_a_bom_decode_whatever_the_header_says(corpus: Path, tmp_path: Path) -> None:
    page = _utf8_pages(corpus, 1)[0]
    bodies = [
        (codecs.BOM_UTF16_LE + page.encode("utf-16-le"), [("Content-Type", "text/html; charset=utf-8")]),
        (codecs.BOM_UTF16_BE + page.encode("utf-16-be"), [("Content-Type", "text/html")]),
        (codecs.BOM_UTF8 + page.encode("utf-8"), [("Content-Type", "text/html; charset=iso-8859-1")]),
    ]
    _warc(tmp_path / "bom.warc.gz", bodies)
    kept, dropped, errors = _read(tmp_path / "bom.warc.gz")
    assert [d["text"] for d in kept] == [page] * 3 and not dropped and not errors
    assert [decode_meta(d["meta"])["charset_source"] for d in kept] == ["bom"] * 3


@pytest.mark.parametrize(
    "label", ["utf-7", "unicode_escape", "raw_unicode_escape", "punycode", "rot13", "utf-16", "idna", "hex", "base64"]
)
def test_non_web_codecs_in_a_meta_or_header_are_ignored(corpus: Path, label: str) -> None:
    page = _utf8_pages(corpus, 2)[1]
    data = page.encode("utf-8")
    for ctype, body in (
        (f"text/html; charset={label}", data),
        ("text/html", f'<meta charset="{label}">'.encode() + data),
    ):
        text, charset, how = decode_html(body, ctype)
        assert charset == "utf-8" and how in ("meta", "default") and text == body.decode("utf-8")


def test_whatwg_labels_are_honoured(corpus: Path) -> None:
    page = _utf8_pages(corpus, 1)[0]
    for label, codec in (("latin1", "cp1252"), ("shift_jis", "cp932"), ("gbk", "gb18030"), ("koi8-r", "koi8_r")):
        body = page.encode(codec, "replace")
        assert decode_html(body, f"text/html; charset={label}") == (body.decode(codec), codec, "http")


def _records(raw: bytes) -> list[bytes]:
    starts = [m.start() for m in re.finditer(rb"WARC/1\.0\r\n", raw)]
    return [raw[a:b] for a, b in zip(starts, starts[1:] + [len(raw)])]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("lie", ["+500", "+next", "-300"])
def test_a_lying_content_length_costs_its_own_record_only(corpus: Path, tmp_path: Path, gz: bool, lie: str) -> None:
    recs = _records(gzip.decompress((corpus / "web" / "pages.warc.gz").read_bytes()))[:7]  # warcinfo + 6 pages
    m = re.search(rb"Content-Length: (\d+)", recs[3])
    delta = {"+500": 500, "+next": len(recs[4]) + 10, "-300": -300}[lie]
    recs[3] = recs[3][: m.start(1)] + str(int(m.group(1)) + delta).encode() + recs[3][m.end(1) :]
    path = tmp_path / ("lie.warc.gz" if gz else "lie.warc")
    path.write_bytes(b"".join(gzip.compress(r) if gz else r for r in recs))
    good = WarcReader("web", "web").read(Unit(str(corpus / "web" / "pages.warc.gz"))).kept.to_pylist()[:6]
    kept, dropped, errors = _read(path)
    assert dropped == {"warc:non_response": 1} and errors == {"warc:length_mismatch": 1}
    assert [d["text"] for d in kept] == [d["text"] for i, d in enumerate(good) if i != 2]  # 5 of 6 pages, exact


def test_content_encodings_decode_and_bad_bodies_are_dropped(corpus: Path, tmp_path: Path) -> None:
    pages = _utf8_pages(corpus, 4)
    html = [("Content-Type", "text/html; charset=utf-8")]
    raw_deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    bodies = [
        (brotli.compress(pages[0].encode()), html + [("Content-Encoding", "br")]),
        (gzip.compress(pages[1].encode()), html + [("Content-Encoding", "gzip")]),
        (zlib.compress(pages[2].encode()), html + [("Content-Encoding", "deflate")]),
        (raw_deflate.compress(pages[3].encode()) + raw_deflate.flush(), html + [("Content-Encoding", "deflate")]),
        (b"not brotli at all" * 10, html + [("Content-Encoding", "br")]),
        (gzip.compress(pages[0].encode())[:200], html + [("Content-Encoding", "gzip")]),
        (pages[1].encode(), html + [("Content-Encoding", "compress")]),
    ]
    _warc(tmp_path / "enc.warc.gz", bodies)
    kept, dropped, errors = _read(tmp_path / "enc.warc.gz")
    assert [d["text"] for d in kept] == pages[:4] and not errors
    assert dropped == {"content:bad_encoding": 2, "content_encoding:compress": 1}  # garbled br, cut gzip


def _warc_records(corpus: Path, n: int | None = None) -> list[bytes]:
    """The first ``n`` records (all by default) of the real pages.warc.gz (warcinfo, then responses), uncompressed."""
    raw = gzip.decompress((corpus / "web" / "pages.warc.gz").read_bytes())
    starts = [m.start() for m in re.finditer(rb"WARC/1\.0\r\n", raw)]
    return [raw[a:b] for a, b in zip(starts, starts[1:] + [len(raw)])][:n]


@pytest.mark.parametrize(
    "gz,length",
    [
        (False, None),
        (False, b"99999999999999"),
        (False, b"-50"),
        (False, b""),
        (True, b"-50"),
        (True, b"abc"),
        (True, b""),
    ],
)
def test_a_warc_record_without_a_usable_length_costs_only_itself(
    corpus: Path, tmp_path: Path, gz: bool, length: bytes | None
) -> None:
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
    # plain or gzipped, it is counted once and the pages after it are read
    assert counts(res) == (5, {"warc:non_response": 1}, {"warc:length_mismatch": 1})
    assert res.kept.column("text").to_pylist() == good[:2] + good[3:]  # the pages after it, exact


def test_a_warc_gzipped_whole_is_read_record_by_record(corpus: Path, tmp_path: Path) -> None:
    recs = _warc_records(corpus, 7)
    (tmp_path / "whole.warc.gz").write_bytes(gzip.compress(b"".join(recs)))  # one member, not one per record
    reader = WarcReader("web", "web")
    good = reader.read(Unit(str(corpus / "web" / "pages.warc.gz"))).kept.column("text").to_pylist()[:6]
    res = reader.read(Unit(str(tmp_path / "whole.warc.gz")))
    assert counts(res) == (6, Counter({"warc:non_response": 1}), Counter())  # one error per bad line, the others kept
    assert res.kept.column("text").to_pylist() == good


def test_a_gzip_member_holding_only_record_headers_is_counted(corpus: Path, tmp_path: Path) -> None:
    recs = _warc_records(corpus, 7)
    recs[3] = recs[3][: recs[3].index(b"\r\n\r\n") + 2]  # WARC headers, then the member ends: no block at all
    (tmp_path / "cut.warc.gz").write_bytes(b"".join(gzip.compress(r) for r in recs))
    res = WarcReader("web", "web").read(Unit(str(tmp_path / "cut.warc.gz")))
    # a member warcio would take for empty is counted as warc:unparsed
    assert counts(res) == (5, Counter({"warc:non_response": 1}), Counter({"warc:unparsed": 1}))


@pytest.mark.parametrize("layout", ["one_then_groups", "groups", "groups_repeating"])
def test_warc_members_of_several_records_are_read_once_in_order(corpus: Path, tmp_path: Path, layout: str) -> None:
    recs = _warc_records(corpus)[:41]  # warcinfo + 40 pages
    groups = (
        [recs[:1]] + [recs[k : k + 5] for k in range(1, 41, 5)]
        if layout == "one_then_groups"
        else [recs[k : k + 3] for k in range(0, 41, 3)]
    )
    if layout == "groups_repeating":
        groups += groups[1:4]  # later members repeat earlier records' text
    path = tmp_path / "grouped.warc.gz"
    path.write_bytes(b"".join(gzip.compress(b"".join(g)) for g in groups))
    res = WarcReader("web", "web").read(Unit(str(path)))
    flat = [r for g in groups for r in g]
    want = WarcReader("web", "web").read(Unit(str(corpus / "web" / "pages.warc.gz")))
    by_url = dict(zip(want.kept.column("url").to_pylist(), want.kept.column("text").to_pylist()))
    urls = [re.search(rb"WARC-Target-URI: (\S+)", r).group(1).decode() for r in flat[1:] if b"response" in r[:200]]
    # records before the first member of several are read once
    assert res.errors.num_rows == 0 and res.dropped.num_rows == 1 + flat.count(recs[0]) - 1
    assert res.kept.column("url").to_pylist() == [u for u in urls]
    assert res.kept.column("text").to_pylist() == [by_url[u] for u in urls]
    assert len(set(res.kept.column("id").to_pylist())) == res.kept.num_rows
    split = WarcReader("web", "web", WarcReader.Config(split_bytes=150_000))
    units = split.units([str(path)])
    assert len(units) > 3  # read as byte ranges by separate tasks: the same records, each once
    assert [i for u in units for i in split.read(u).kept.column("id").to_pylist()] == res.kept.column("id").to_pylist()
