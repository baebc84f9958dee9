"""Issue 14, class 4 (wrong text kept): byte order marks decide the encoding, only WHATWG web encodings
are honoured from a charset header or meta tag, a WARC record whose Content-Length lies is an error that
never swallows or garbles its neighbours, and Content-Encoding gzip/deflate/br bodies decode (an
undecodable one is dropped with its reason). Inputs: the real trafilatura pages and a real book, packed
into WARC records with hostile headers.
"""
from __future__ import annotations

import codecs
import gzip
import io
import re
import zlib
from collections import Counter
from pathlib import Path

import brotli
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curate.schema import decode_meta
from curate.sources.base import Unit
from curate.sources.books import BooksReader
from curate.sources.charset import decode_html
from curate.sources.warc import WarcReader


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
            w.write_record(w.create_warc_record(f"https://example.org/{i}", "response", payload=io.BytesIO(body),
                                                http_headers=http))


def _read(path: Path) -> tuple[list[dict], Counter, Counter]:
    res = WarcReader("web", "web").read(Unit(str(path)))
    return (res.kept.to_pylist(), Counter(res.dropped.column("reason").to_pylist()),
            Counter(res.errors.column("reason").to_pylist()))


def test_utf16_pages_with_a_bom_decode_whatever_the_header_says(corpus: Path, tmp_path: Path) -> None:
    page = _utf8_pages(corpus, 1)[0]
    bodies = [(codecs.BOM_UTF16_LE + page.encode("utf-16-le"), [("Content-Type", "text/html; charset=utf-8")]),
              (codecs.BOM_UTF16_BE + page.encode("utf-16-be"), [("Content-Type", "text/html")]),
              (codecs.BOM_UTF8 + page.encode("utf-8"), [("Content-Type", "text/html; charset=iso-8859-1")])]
    _warc(tmp_path / "bom.warc.gz", bodies)
    kept, dropped, errors = _read(tmp_path / "bom.warc.gz")
    assert [d["text"] for d in kept] == [page] * 3 and not dropped and not errors
    assert [decode_meta(d["meta"])["charset_source"] for d in kept] == ["bom"] * 3


@pytest.mark.parametrize("label", ["utf-7", "unicode_escape", "raw_unicode_escape", "punycode", "rot13",
                                   "utf-16", "idna", "hex", "base64"])
def test_non_web_codecs_in_a_meta_or_header_are_ignored(corpus: Path, label: str) -> None:
    page = _utf8_pages(corpus, 2)[1]
    data = page.encode("utf-8")
    for ctype, body in ((f"text/html; charset={label}", data), ("text/html", f'<meta charset="{label}">'.encode() + data)):
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
    recs[3] = recs[3][: m.start(1)] + str(int(m.group(1)) + delta).encode() + recs[3][m.end(1):]
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
    bodies = [(brotli.compress(pages[0].encode()), html + [("Content-Encoding", "br")]),
              (gzip.compress(pages[1].encode()), html + [("Content-Encoding", "gzip")]),
              (zlib.compress(pages[2].encode()), html + [("Content-Encoding", "deflate")]),
              (raw_deflate.compress(pages[3].encode()) + raw_deflate.flush(), html + [("Content-Encoding", "deflate")]),
              (b"not brotli at all" * 10, html + [("Content-Encoding", "br")]),
              (gzip.compress(pages[0].encode())[:200], html + [("Content-Encoding", "gzip")]),
              (pages[1].encode(), html + [("Content-Encoding", "compress")])]
    _warc(tmp_path / "enc.warc.gz", bodies)
    kept, dropped, errors = _read(tmp_path / "enc.warc.gz")
    assert [d["text"] for d in kept] == pages[:4] and not errors
    assert dropped == {"content:bad_encoding": 2, "content_encoding:compress": 1}  # garbled br, cut gzip


def test_books_honour_utf16_boms(corpus: Path, tmp_path: Path) -> None:
    text = (corpus / "books" / "pg84.txt").read_bytes().decode("cp1252")
    (tmp_path / "le.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    (tmp_path / "be.txt").write_bytes(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    r = BooksReader("books", "books")
    want = r.read(Unit(str(corpus / "books" / "pg84.txt"))).kept.column("text").to_pylist()
    for name in ("le.txt", "be.txt"):
        assert r.read(Unit(str(tmp_path / name))).kept.column("text").to_pylist() == want
