"""The sample corpus builder, on real Debian package data (skipped where the packages are absent)."""

from __future__ import annotations

import bz2
import filecmp
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import mwparserfromhell
import pytest
from warcio.archiveiterator import ArchiveIterator

from curate.sample import BuildOptions, build, web, wiki
from curate.sample.build import FOLDOC_DATA, FOLDOC_INDEX, summarize
from curate.sample.debian import MissingPackage, changelog_date, missing, read_dictd, require

NS = "{http://www.mediawiki.org/xml/export-0.10/}"


def needs(*packages: str):
    gone = missing(list(packages))
    return pytest.mark.skipif(
        bool(gone), reason=f"Debian package(s) {', '.join(gone)} not installed (`make sample` installs them as root)"
    )


@pytest.fixture(scope="module")
def foldoc_slice():
    """The FOLDOC meta entries plus the first 300 real entries (data order)."""
    entries = read_dictd(FOLDOC_INDEX, FOLDOC_DATA)
    meta = [e for e in entries if e.headwords[0].startswith("00-database")]
    return meta + [e for e in entries if not e.headwords[0].startswith("00-database")][:300]


def _pages(path: Path) -> list[ET.Element]:
    with bz2.open(path) as f:
        return list(ET.parse(f).getroot().iter(NS + "page"))


@needs("dict-foldoc")
def test_wiki_export_parses_back(tmp_path, foldoc_slice):
    pages = wiki.foldoc_pages(foldoc_slice, changelog_date("dict-foldoc"))
    out = tmp_path / "foldoc.xml.bz2"
    counts = wiki.write_export(out, pages)
    with bz2.open(out) as f:
        root = ET.parse(f).getroot()
    site = root.find(NS + "siteinfo")
    assert (site.findtext(NS + "sitename"), site.findtext(NS + "dbname"), site.findtext(NS + "base")) == (
        "FOLDOC",
        "foldoc",
        "https://foldoc.org/",
    )
    parsed = list(root.iter(NS + "page"))
    assert len(parsed) == len(pages) == counts["docs"] + counts["redirects"] + counts["meta"]
    assert counts["meta"] == 7 and counts["docs"] == 300  # no title collisions in this slice
    titles = [p.findtext(NS + "title") for p in parsed]
    assert len(set(titles)) == len(titles)
    assert [p.findtext(NS + "id") for p in parsed] == [str(i) for i in range(1, len(parsed) + 1)]
    for p in parsed:
        rev = p.find(NS + "revision")
        text = rev.findtext(NS + "text") or ""
        assert rev.findtext(NS + "sha1") == wiki.sha1_base36(text)
        assert rev.find(NS + "text").get("bytes") == str(len(text.encode("utf-8")))
        assert rev.findtext(NS + "model") == "wikitext" and rev.findtext(NS + "format") == "text/x-wiki"
        if p.findtext(NS + "ns") == "4":
            assert p.findtext(NS + "title").startswith("FOLDOC:00-database-")
        elif p.find(NS + "redirect") is not None:
            target = p.find(NS + "redirect").get("title")
            assert text == f"#REDIRECT [[{target}]]" and target in titles
    # every ns-0 article keeps its entry's prose: each FOLDOC {cross reference} is now a wikilink
    by_title = {p.findtext(NS + "title"): p for p in parsed}
    checked = 0
    for e in foldoc_slice[7:]:
        head, _, body = e.text.partition("\n\n")
        code = mwparserfromhell.parse(by_title[head.split("\n")[0]].find(NS + "revision").findtext(NS + "text"))
        links = {str(w.title) for w in code.filter_wikilinks()}
        for ref in wiki._XREF.findall(body):
            if wiki._xref(ref).startswith("[["):
                assert " ".join(ref.split()) in links
                checked += 1
        # the plain text after markup removal has the same words as the dictd entry (markup aside)
        plain = code.strip_code(normalize=True, collapse=True)
        words = [w for w in body.replace("{", " ").replace("}", " ").split() if w.isalpha()]
        assert all(w in plain for w in words[:20])
    assert checked > 300


@needs("dict-foldoc")
def test_wiki_reader_accounts_for_every_page(tmp_path, foldoc_slice):
    from curate.sources.base import Unit
    from curate.sources.wiki import WikiReader

    out = tmp_path / "foldoc.xml.bz2"
    counts = wiki.write_export(out, wiki.foldoc_pages(foldoc_slice, changelog_date("dict-foldoc")))
    res = WikiReader("foldoc", "wiki").read(Unit(str(out)))
    reasons = res.dropped.column("reason").to_pylist()
    assert res.kept.num_rows + res.errors.num_rows + len(reasons) == len(_pages(out))
    assert reasons.count("wiki:redirect") == counts["redirects"] and reasons.count("wiki:namespace") == 7
    assert res.kept.num_rows >= 295  # a few entries are only a bare cross reference or URL


def test_sha1_base36_matches_real_dump(corpus):
    """The revision sha1 we write is computed as Wikimedia does: check on a real ukwiki dump head."""
    pages = _pages(corpus / "wiki" / "ukwiki-20230501-pages-articles-multistream.head.xml.bz2")[:20]
    for p in pages:
        rev = p.find(NS + "revision")
        assert wiki.sha1_base36(rev.findtext(NS + "text") or "") == rev.findtext(NS + "sha1")


@needs("python3.11-doc", "debian-handbook")
def test_warc_round_trip(tmp_path):
    pages = web.pydoc_pages()[:4] + [
        p for p in web.handbook_pages(["en-US", "ja-JP"]) if p.path.name in ("index.html", "apt.html")
    ]
    dates = {p: changelog_date(p) for p in ("python3.11-doc", "debian-handbook")}
    out = tmp_path / "t.warc.gz"
    web.write_warc(out, pages, dates, {"software": "test"})
    with open(out, "rb") as f:
        recs = [
            (r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read())
            for r in ArchiveIterator(f, check_digests="raise")
        ]
    assert recs[0][0] == "warcinfo" and [r[0] for r in recs[1:]] == ["response"] * len(pages)
    urls = [r[1].get_header("WARC-Target-URI") for r in recs[1:]]
    assert urls[:4] == [web.PYDOC_BASE + p.path.relative_to(web.PYDOC_ROOT).as_posix() for p in pages[:4]]
    assert urls[4:] == [
        "https://debian-handbook.info/browse/stable/apt.html",
        "https://debian-handbook.info/browse/stable/",
        "https://debian-handbook.info/browse/ja-JP/stable/apt.html",
        "https://debian-handbook.info/browse/ja-JP/stable/",
    ]
    for page, (_, rec, http, payload) in zip(pages, recs[1:]):
        assert http.get_statuscode() == "200" and http.protocol == "HTTP/1.1"
        assert http.get_header("Content-Type") == "text/html; charset=utf-8"
        assert payload == page.path.read_bytes()
        assert rec.get_header("WARC-Date") == dates[page.package].strftime("%Y-%m-%dT%H:%M:%SZ")


def test_url_mapping_rules():
    assert web.pydoc_url("library/os.html") == "https://docs.python.org/3.11/library/os.html"
    assert web.pydoc_url("index.html") == "https://docs.python.org/3.11/"
    assert web.pydoc_url("tutorial/index.html") == "https://docs.python.org/3.11/tutorial/"
    assert web.handbook_url("de-DE", "apt.html") == "https://debian-handbook.info/browse/de-DE/stable/apt.html"
    assert web.handbook_url("en-US", "index.html") == "https://debian-handbook.info/browse/stable/"


def test_missing_package_error_says_how_to_fix(tmp_path):
    with pytest.raises(MissingPackage, match=r"run `make sample` as root to install dict-foldoc.*--from DIR"):
        require("dict-foldoc", tmp_path / "foldoc.index")


SMALL = dict(
    max_pages=3, handbook_langs=["en-US", "zh-CN"], max_wiki_pages=40, max_book_bytes=30_000, max_code_files=25
)


@needs("python3.11-doc", "debian-handbook", "dict-foldoc", "jargon-text", "dict-devil", "bible-kjv")
def test_build_is_deterministic_atomic_and_idempotent(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    sa = build(BuildOptions(out=str(a), **SMALL))
    sb = build(BuildOptions(out=str(b), **SMALL))
    assert sa == sb and not (tmp_path / "a.tmp").exists()
    cmp = filecmp.dircmp(a, b)
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert all(filecmp.cmp(a / f, b / f, shallow=False) for f in files), cmp.report()
    assert sa["web"] == {"files": 1, "docs": 3 + 3, "bytes": sa["web"]["bytes"]}
    assert sa["books"]["files"] == 4 and sa["code"]["files"] == 25
    assert (a / "code" / "cpython").is_dir() and sa["wiki"]["docs"] >= 40
    assert json.loads((a / "MANIFEST.json").read_text())["summary"] == sa
    stamp = (a / ".complete").stat().st_mtime_ns
    build(BuildOptions(out=str(a), **SMALL))  # complete with the same version and options: skipped
    assert (a / ".complete").stat().st_mtime_ns == stamp
    build(BuildOptions(out=str(a), **{**SMALL, "max_pages": 2}))  # other options: rebuilt
    assert summarize(a)["web"]["docs"] == 4


def test_build_from_corpus_copies_layout(tmp_path, corpus):
    out = tmp_path / "s"
    s = build(BuildOptions(out=str(out), from_dir=str(corpus), max_code_files=10))
    assert sorted(p.name for p in (out / "web").iterdir()) == ["pages.warc.gz", "whirlwind.warc.gz"]
    assert s["web"]["docs"] == 256 + 1 and s["wiki"]["docs"] == 71 + 532 + 238
    assert s["books"]["files"] == 13 and not (out / "books" / "books.jsonl").exists()
    assert (out / "code" / "cpython").is_dir() and s["code"]["files"] == 10  # corpus code/ has no repos
    for f in (corpus / "books").glob("*.txt"):
        assert filecmp.cmp(f, out / "books" / f.name, shallow=False)
