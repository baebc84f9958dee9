"""Issue 27 (part B): one record is one record, and a record's cost is linear in its size.

Inputs are real corpus files made hostile: WARC records and JSONL lines regrouped into compressed members
that repeat text, a wiki page inflated to megabytes with real wikitext.
"""
from __future__ import annotations

import bz2
import gzip
import json
import lzma
import re
import unicodedata
from pathlib import Path

import pytest
import zstandard

from curate.dedup.exact import ExactDedupStage
from curate.sources.base import Unit
from curate.sources.bz2split import RangeXml
from curate.sources.tabular import JsonlReader
from curate.sources.warc import WarcReader
from curate.sources.wiki import WikiReader

COMPRESS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress,
            "zst": lambda b: zstandard.ZstdCompressor().compress(b)}


def _warc_records(corpus: Path) -> list[bytes]:
    raw = gzip.decompress((corpus / "web" / "pages.warc.gz").read_bytes())
    starts = [m.start() for m in re.finditer(rb"WARC/1\.0\r\n", raw)]
    return [raw[a:b] for a, b in zip(starts, starts[1:] + [len(raw)])]


@pytest.mark.parametrize("layout", ["one_then_groups", "groups", "groups_repeating"])
def test_warc_members_of_several_records_are_read_once_in_order(corpus: Path, tmp_path: Path, layout: str) -> None:
    recs = _warc_records(corpus)[:41]  # warcinfo + 40 pages
    groups = [recs[:1]] + [recs[k:k + 5] for k in range(1, 41, 5)] if layout == "one_then_groups" else \
        [recs[k:k + 3] for k in range(0, 41, 3)]
    if layout == "groups_repeating":
        groups += groups[1:4]  # later members repeat earlier records' text
    path = tmp_path / "grouped.warc.gz"
    path.write_bytes(b"".join(gzip.compress(b"".join(g)) for g in groups))
    res = WarcReader("web", "web").read(Unit(str(path)))
    flat = [r for g in groups for r in g]
    want = WarcReader("web", "web").read(Unit(str(corpus / "web" / "pages.warc.gz")))
    by_url = dict(zip(want.kept.column("url").to_pylist(), want.kept.column("text").to_pylist()))
    urls = [re.search(rb"WARC-Target-URI: (\S+)", r).group(1).decode() for r in flat[1:] if b"response" in r[:200]]
    # before: the records read before the first member of several were read again (kept twice)
    assert res.errors.num_rows == 0 and res.dropped.num_rows == 1 + flat.count(recs[0]) - 1
    assert res.kept.column("url").to_pylist() == [u for u in urls]
    assert res.kept.column("text").to_pylist() == [by_url[u] for u in urls]
    assert len(set(res.kept.column("id").to_pylist())) == res.kept.num_rows
    split = WarcReader("web", "web", WarcReader.Config(split_bytes=150_000))
    units = split.units([str(path)])
    assert len(units) > 3  # read as byte ranges by separate tasks: the same records, each once
    assert [i for u in units for i in split.read(u).kept.column("id").to_pylist()] == res.kept.column("id").to_pylist()


@pytest.mark.parametrize("ext", sorted(COMPRESS))
def test_jsonl_members_repeating_text_are_each_read_once(corpus: Path, tmp_path: Path, ext: str) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_bytes().splitlines(keepends=True)[:60]
    parts = [b"".join(lines[k:k + 7]) for k in range(0, 60, 7)] + [b"".join(lines[:25])]
    path = tmp_path / f"members.jsonl.{ext}"
    path.write_bytes(b"".join(COMPRESS[ext](p) for p in parts))
    res = JsonlReader("d", "web").read(Unit(str(path)))
    assert res.kept.column("text").to_pylist() == [json.loads(ln)["text"] for ln in lines + lines[:25]]
    assert len(set(res.kept.column("id").to_pylist())) == 85


def _inflated_dump(corpus: Path, page_bytes: int) -> bytes:
    """The sample dump's head and three pages, a page whose text is ``page_bytes`` of real ukwiki
    wikitext, and three more pages."""
    xml = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes())
    uk = bz2.decompress((corpus / "wiki" / "ukwiki-20230501-pages-articles-multistream.head.xml.bz2").read_bytes())
    wikitext = b"".join(m.group(1) for m in re.finditer(rb"<text[^>]*>(.*?)</text>", uk[:4 << 20], re.S))
    ends = [m.end() for m in re.finditer(rb"</page>", xml)]
    head, first, pages = xml[: xml.index(b"<page>")], xml[xml.index(b"<page>"): ends[0]], xml[ends[0]: ends[3]]
    t0 = first.index(b">", first.index(b"<text")) + 1
    body = (wikitext * (page_bytes // len(wikitext) + 1))[:page_bytes]
    return head + pages + first[:t0] + body + first[first.index(b"</text>"):] + pages + b"</mediawiki>\n"


def test_a_huge_wiki_page_in_bz2_is_scanned_once(corpus: Path, tmp_path: Path) -> None:
    scanned = {}
    for mib in (2, 8):
        xml = _inflated_dump(corpus, mib << 20)
        path = tmp_path / f"big{mib}.xml.bz2"
        path.write_bytes(bz2.compress(xml, 1))
        with open(path, "rb") as f:
            src = RangeXml(f, 0, None)
            out = b"".join(iter(lambda: src.read(1 << 16), b""))  # noqa: B023 (read at once)
        assert out == xml and src.error is None
        scanned[mib] = src.scanned
        # before: the held page was searched again per decompressed block (quadratic: ~mib/2 times its size)
        assert src.scanned <= len(xml) + 8 * (len(xml) >> 16)
        with open(path, "rb") as f:  # a page over ``hold`` (one the reader drops as oversized) is not held
            src = RangeXml(f, 0, None, hold=1 << 20)
            assert b"".join(iter(lambda: src.read(1 << 16), b"")) == xml and src.peak < 3 << 20  # noqa: B023
        res = WikiReader("w", "wiki", WikiReader.Config(max_page_bytes=1 << 20)).read(Unit(str(path)))
        assert res.dropped.column("reason").to_pylist() == ["wiki:oversized"] and res.kept.num_rows == 6
    assert scanned[8] / scanned[2] < 4.5  # linear in the page's size
    cut = tmp_path / "cut.xml.bz2"  # the file ends inside the huge page: it is still one drop, plus one error
    cut.write_bytes((tmp_path / "big8.xml.bz2").read_bytes()[: (tmp_path / "big8.xml.bz2").stat().st_size // 2])
    res = WikiReader("w", "wiki", WikiReader.Config(max_page_bytes=1 << 20)).read(Unit(str(cut)))
    assert res.kept.num_rows == 3 and res.dropped.column("reason").to_pylist() == ["wiki:oversized"]
    assert res.errors.num_rows == 1


def _french_paragraphs(corpus: Path, n: int) -> list[str]:
    text = (corpus / "books" / "20000-Lieues-sous-les-mers.txt").read_text("utf-8", "replace")
    paras = [p.strip() for p in re.split(r"\r?\n\s*\r?\n", text) if len(p) > 300]
    return [unicodedata.normalize("NFC", p) for p in paras if p != unicodedata.normalize("NFD", p)][:n]


@pytest.mark.parametrize("form,removed", [("NFC", 12), ("none", 0)])
def test_exact_dedup_sees_nfc_and_nfd_spellings_as_one_text(corpus: Path, tmp_path: Path, form: str,
                                                           removed: int) -> None:
    from tests.test_dedup import run_stage, write_parts

    paras = _french_paragraphs(corpus, 12)
    assert len(paras) == 12
    rows = [{"id": f"nfc-{i:02d}", "source": "books", "kind": "books", "url": None, "text": p, "meta": {}}
            for i, p in enumerate(paras)]
    rows += [{"id": f"nfd-{i:02d}", "source": "mirror", "kind": "books", "url": None,
              "text": unicodedata.normalize("NFD", p), "meta": {}} for i, p in enumerate(paras)]
    state, kept, dropped = run_stage(ExactDedupStage(ExactDedupStage.Config(unicode_form=form)),
                                     write_parts(rows, tmp_path / "parts", 3), tmp_path / "work")
    assert dropped.num_rows == removed and kept.num_rows == 24 - removed  # before: 0 removed by default
    if removed:
        assert sorted(dropped.column("id").to_pylist()) == [f"nfd-{i:02d}" for i in range(12)]


@pytest.mark.parametrize("eol", ["\r", "\r\n"])
def test_every_line_break_style_makes_lines(corpus: Path, stdlib_dir: Path, tmp_path: Path, eol: str) -> None:
    from curate.sources.code import CodeReader

    repo = tmp_path / "repo"
    repo.mkdir()
    names = ("json/encoder.py", "textwrap.py", "csv.py")
    sources = [(stdlib_dir / n).read_text(encoding="utf-8") for n in names]
    for n, src in zip(names, sources):
        (repo / n.replace("/", "_")).write_bytes(src.replace("\n", eol).encode())
    res = CodeReader("code", "code").read(Unit(str(repo)))
    assert res.dropped.num_rows == 0  # before: CR-only files were one long line, code:minified
    assert sorted(res.kept.column("text").to_pylist()) == sorted(sources)
    # JSONL lines ended by CR or CRLF (mixed in one file), read whole and split: the same rows, same line numbers
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()[:80]
    ends = [eol if k % 3 else "\n" for k in range(len(lines))]
    path = tmp_path / "docs.jsonl"
    path.write_bytes("".join(ln + e for ln, e in zip(lines, ends)).encode())
    want = [json.loads(ln)["text"] for ln in lines]  # texts with CRLF inside are kept as they are
    whole = JsonlReader("d", "web").read(Unit(str(path)))
    assert whole.kept.column("text").to_pylist() == want and whole.errors.num_rows == 0
    split = JsonlReader("d", "web", JsonlReader.Config(split_bytes=20_000))
    units = split.units([str(path)])
    assert len(units) > 3
    parts = [split.read(u).kept for u in units]
    assert [i for p in parts for i in p.column("id").to_pylist()] == whole.kept.column("id").to_pylist()
    # a lone CR in a document's text reaches every later stage as LF (counted), so line filters see its lines
    book = (corpus / "books" / "pg84.txt").read_text(encoding="utf-8", errors="replace")[:20_000]
    doc = tmp_path / "book.jsonl"
    doc.write_text(json.dumps({"text": book.replace("\n", eol)}) + "\n", encoding="utf-8")
    from curate.docfiles import DocumentJsonlReader  # documents of an earlier run, read by the standalone commands

    for reader in (JsonlReader("d", "web"), DocumentJsonlReader("d", "web")):
        res = reader.read(Unit(str(doc)))
        assert res.kept.column("text").to_pylist() == [book.replace("\n", eol) if eol == "\r\n" else book]
        assert res.counters == ({} if eol == "\r\n" else {"lone_cr_to_lf": 1})


def test_documents_that_do_not_decode_back_are_counted(corpus: Path, tmp_path: Path) -> None:
    from curate.tokenizer import tokenize_files
    from curate.tokenizer.train import doc_lines, train_sentencepiece

    docs = [json.loads(ln)["text"] for ln in (corpus / "dedup" / "docs.jsonl").read_text("utf-8").splitlines()]
    model = train_sentencepiece((ln for d in docs[:120] for ln in doc_lines(d)), tmp_path / "tok", vocab_size=800)
    texts = docs[200:240]
    for k in range(0, 40, 4):  # symbol-heavy: a sparkline of block elements, then a line spelled with U+2581
        first = texts[k].split("\n", 1)[0]
        texts[k] = "▁▂▃▅▇█▇▅▃▂▁ " + texts[k] + "\n" + first.replace(" ", "\u2581")
    texts[1] = "ﬁ ① ℵ₀ ∑∫√ 👍🏽 " + texts[1]  # other symbols are kept exactly (identity normalisation)
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), "utf-8")
    out = tokenize_files([str(tmp_path / "docs.jsonl")], str(tmp_path / "run"), str(model), seed=3)
    m = json.loads(Path(out["manifest"]).read_text())
    # before: nothing said that 10 documents in the shards decode to other text than they were given
    assert out["not_lossless_docs"] == 10 and m["not_lossless"]["docs"] == 10
    import pyarrow.parquet as pq
    kept = pq.read_table(tmp_path / "run" / m["documents"][0]).to_pylist()
    by_id = {r["id"]: r["text"] for r in kept}
    assert len(m["not_lossless"]["examples"]) == 5 and all("\u2581" in by_id[i] for i in m["not_lossless"]["examples"])
