"""WikiReader on the real dumps (sample, ukwiki and jawiki heads) and on hostile/corrupt XML: bad or huge
pages error or drop alone (a huge page scanned once, in linear time), unclosed wikitext markup is bounded, a
siteinfo that does not parse costs no page, multistream files split at stream boundaries.
"""

from __future__ import annotations

import bz2
import html
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from curate.schema import decode_meta
from curate.sources.base import Unit
from curate.sources.bz2split import RangeXml
from curate.sources.wiki import WikiReader, site_base
from curate.sources.wikitext import WikitextCleaner, markup_depth


def read(path: Path | str):
    res = WikiReader("wiki", "wiki").read(Unit(str(path)))
    return (
        res.kept.to_pylist(),
        Counter(res.dropped.column("reason").to_pylist()),
        Counter(res.errors.column("reason").to_pylist()),
    )


def test_sample_dump_matches_index(corpus: Path) -> None:
    kept, dropped, errors = read(corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2")
    index = [json.loads(line) for line in (corpus / "wiki" / "wiki-sample-pages.jsonl").read_text().splitlines()]
    assert len(kept) == sum(not r["redirect"] for r in index) == 70
    assert dropped == {"wiki:redirect": 1} and not errors
    toronto = next(d for d in kept if d["url"] == "https://en.wikipedia.org/wiki/Toronto")
    assert toronto["text"].startswith("Toronto is the most populous city in Canada")
    for bad in ("{{", "}}", "[[", "<ref", "{|", "Category:", "thumb|"):
        assert bad not in toronto["text"]
    assert "\nHistory\n" in toronto["text"]  # headings kept as lines
    m = json.loads(toronto["meta"])
    assert m["title"] == "Toronto" and m["page_id"] and m["rev_id"] and m["timestamp"]


def test_real_ukwiki_and_jawiki_heads(corpus: Path) -> None:
    kept, dropped, errors = read(corpus / "wiki" / "ukwiki-20230501-pages-articles-multistream.head.xml.bz2")
    assert len(kept) + sum(dropped.values()) == 532 and not errors
    assert len(kept) + dropped["wiki:redirect"] == 525  # ns0 pages
    assert all(d["url"].startswith("https://uk.wikipedia.org/wiki/") for d in kept)
    assert not any("Файл:" in d["text"] or "[[" in d["text"] or "{{" in d["text"] for d in kept)
    kept, dropped, errors = read(corpus / "wiki" / "jawiki-20230501-pages-articles-multistream.head.xml.bz2")
    assert len(kept) + sum(dropped.values()) == 238 and len(kept) + dropped["wiki:redirect"] == 204
    geo = next(d for d in kept if json.loads(d["meta"])["title"] == "地理学")
    assert geo["text"].startswith("地理学は、地球表面")  # bold title inside {{読み仮名}} kept


def test_billion_laughs_is_not_expanded(tmp_path: Path) -> None:
    ents = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE mediawiki [{ents}]><mediawiki><page><title>Bomb</title><ns>0</ns>'
        "<id>1</id><revision><id>1</id><text>&lol9;</text></revision></page></mediawiki>"
    )
    p = tmp_path / "bomb.xml"
    p.write_text(bomb)
    kept, dropped, errors = read(p)
    assert all(len(d["text"] or "") < 1000 for d in kept)
    assert len(kept) + sum(dropped.values()) + sum(errors.values()) >= 1


def test_truncated_and_garbage_inputs(corpus: Path, tmp_path: Path) -> None:
    data = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes())
    cut = tmp_path / "cut.xml.bz2"
    cut.write_bytes(bz2.compress(data[: len(data) // 2]))
    kept, dropped, errors = read(cut)
    assert 10 < len(kept) < 70 and sum(errors.values()) == 1
    raw = (corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes()
    trunc = tmp_path / "trunc.xml.bz2"
    trunc.write_bytes(raw[: len(raw) // 2])
    kept, dropped, errors = read(trunc)
    assert len(kept) < 70 and sum(errors.values()) == 1
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    kept, dropped, errors = read(empty)
    assert not kept and sum(errors.values()) == 1


def test_cleaner_and_site_base() -> None:
    c = WikitextCleaner({"Файл"})
    out = c.clean("A [[b|B]] {{cite|x}}<ref>r</ref> [[Файл:x.jpg|thumb|cap]] [[de:X]]\n* item\n{|\n|cell\n|}")
    assert out == "A B\nitem"
    assert site_base("ukwiki", "https://uk.wikipedia.org/wiki/X") == ("uk", "https://uk.wikipedia.org/wiki/")
    assert site_base("", "https://de.wikibooks.org/wiki/Main")[1] == "https://de.wikibooks.org/wiki/"


def _multistream(corpus: Path, tmp_path: Path, pages_per_stream: int = 50) -> Path:
    """The real ukwiki head re-packed as a Wikimedia-style multistream dump: header, 50 pages per stream, footer."""
    xml = bz2.decompress((corpus / "wiki" / "ukwiki-20230501-pages-articles-multistream.head.xml.bz2").read_bytes())
    head_end = xml.index(b"</siteinfo>") + len(b"</siteinfo>\n")
    foot = xml.rindex(b"</mediawiki>")
    body = xml[head_end:foot]
    cuts: list[int] = []
    pos = body.find(b"  <page>")
    while pos != -1:
        cuts.append(pos)
        pos = body.find(b"  <page>", pos + 1)
    groups = [
        body[a:b] for a, b in zip(cuts[::pages_per_stream], cuts[pages_per_stream::pages_per_stream] + [len(body)])
    ]
    out = tmp_path / "ukwiki-multistream.xml.bz2"
    out.write_bytes(b"".join(bz2.compress(part) for part in [xml[:head_end], *groups, xml[foot:]]))
    return out


def _read_units(path: Path, split_bytes: int):
    reader = WikiReader("wiki", "wiki", WikiReader.Config(split_bytes=split_bytes))
    units = reader.units([str(path)])
    kept, dropped, errors = [], Counter(), Counter()
    for u in units:
        res = reader.read(u)
        kept += res.kept.to_pylist()
        dropped.update(res.dropped.column("reason").to_pylist())
        errors.update(res.errors.column("reason").to_pylist())
    return units, kept, dropped, errors


def test_multistream_split_matches_whole_file(corpus: Path, tmp_path: Path) -> None:
    path = _multistream(corpus, tmp_path)
    whole_units, kept, dropped, errors = _read_units(path, 1 << 40)
    assert whole_units == [Unit(str(path))] and len(kept) + sum(dropped.values()) == 532 and not errors
    units, kept_s, dropped_s, errors_s = _read_units(path, 400_000)
    assert len(units) >= 3 and units[0].start == 0 and units[-1].end is None
    assert all(a.end == b.start for a, b in zip(units, units[1:]))
    assert [(d["id"], d["url"], d["text"], d["meta"]) for d in kept_s] == [
        (d["id"], d["url"], d["text"], d["meta"]) for d in kept
    ]
    assert dropped_s == dropped and errors_s == errors


def test_single_stream_and_pbzip2_style_files_are_not_split(corpus: Path, tmp_path: Path) -> None:
    src = corpus / "wiki" / "ukwiki-20230501-pages-articles-multistream.head.xml.bz2"  # one stream
    assert WikiReader("w", "w", WikiReader.Config(split_bytes=100_000)).units([str(src)]) == [Unit(str(src))]
    xml = bz2.decompress(src.read_bytes())  # streams cut every 300 kB, mid-page: no stream starts with <page
    cut = tmp_path / "pbzip2.xml.bz2"
    cut.write_bytes(b"".join(bz2.compress(xml[i : i + 300_000]) for i in range(0, len(xml), 300_000)))
    assert WikiReader("w", "w", WikiReader.Config(split_bytes=100_000)).units([str(cut)]) == [Unit(str(cut))]


def test_truncated_multistream_is_counted(corpus: Path, tmp_path: Path) -> None:
    path = _multistream(corpus, tmp_path)
    raw = path.read_bytes()
    trunc = tmp_path / "trunc-multistream.xml.bz2"
    trunc.write_bytes(raw[: int(len(raw) * 0.7)])
    units, kept, dropped, errors = _read_units(trunc, 400_000)
    assert len(units) >= 2 and errors and all(r.startswith("error:") for r in errors)
    whole = read(trunc)
    assert [d["id"] for d in kept] == [d["id"] for d in whole[0]] and dropped == whole[1] and errors == whole[2]
    garbage = tmp_path / "garbage-multistream.xml.bz2"  # a corrupted middle stream: errors, later units still read
    garbage.write_bytes(
        raw[: len(raw) // 2]
        + bytes(b ^ 0x55 for b in raw[len(raw) // 2 : len(raw) // 2 + 5000])
        + raw[len(raw) // 2 + 5000 :]
    )
    units, kept_g, dropped_g, errors_g = _read_units(garbage, 400_000)
    assert errors_g and 0 < len(kept_g) < 532


def test_a_siteinfo_that_does_not_parse_costs_no_page(corpus: Path, tmp_path: Path) -> None:
    xml = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes())
    hostile = xml.replace(
        b"<siteinfo>",
        b'<siteinfo><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><sitename>&xxe;</sitename>',
        1,
    )
    (tmp_path / "dump.xml").write_bytes(hostile)
    reader = WikiReader("wiki", "wiki")
    good = reader.read(Unit(str(corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2")))
    res = reader.read(Unit(str(tmp_path / "dump.xml")))
    assert res.errors.column("reason").to_pylist() == [
        "wiki:bad_siteinfo"
    ]  # one error for the siteinfo, the pages still read
    assert res.kept.column("text").to_pylist() == good.kept.column("text").to_pylist()  # all 70 articles
    assert res.dropped.num_rows == good.dropped.num_rows and res.kept.num_rows == 70
    assert not any("root:x:0:0" in t for t in res.kept.column("text").to_pylist())


def _inflated_dump(corpus: Path, page_bytes: int) -> bytes:
    """The sample dump's head and three pages, a page whose text is ``page_bytes`` of real ukwiki
    wikitext, and three more pages."""
    xml = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes())
    uk = bz2.decompress((corpus / "wiki" / "ukwiki-20230501-pages-articles-multistream.head.xml.bz2").read_bytes())
    wikitext = b"".join(m.group(1) for m in re.finditer(rb"<text[^>]*>(.*?)</text>", uk[: 4 << 20], re.S))
    ends = [m.end() for m in re.finditer(rb"</page>", xml)]
    head, first, pages = xml[: xml.index(b"<page>")], xml[xml.index(b"<page>") : ends[0]], xml[ends[0] : ends[3]]
    t0 = first.index(b">", first.index(b"<text")) + 1
    body = (wikitext * (page_bytes // len(wikitext) + 1))[:page_bytes]
    return head + pages + first[:t0] + body + first[first.index(b"</text>") :] + pages + b"</mediawiki>\n"


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
        # the held page is scanned once (linear), not again per decompressed block
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


def _wiki_head(corpus: Path, pages: int) -> tuple[str, list[int]]:
    xml = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes()).decode("utf-8")
    ends = [m.end() for m in re.finditer("</page>", xml)]
    return xml[: ends[pages - 1]], ends


def test_wiki_bad_pages_error_alone_and_later_pages_are_read(corpus: Path, tmp_path: Path) -> None:
    xml, ends = _wiki_head(corpus, 8)
    starts = [m.start() for m in re.finditer("<page>", xml)]
    page3 = xml[starts[2] : ends[2]]
    bad_char = page3.replace('xml:space="preserve">', 'xml:space="preserve">&#xD800;', 1)
    body = re.search(r"<text[^>]*>(.*?)</text>", page3, re.S)
    huge = page3[: body.start(1)] + body.group(1) * 60 + page3[body.end(1) :]  # 60 times the page's text
    broken = page3.replace("</title>", "</titel>", 1)  # malformed XML inside one page
    hostile = xml[: starts[2]] + bad_char + huge + broken + xml[starts[3] :] + "\n</mediawiki>\n"
    p = tmp_path / "dump.xml"
    p.write_text(hostile, encoding="utf-8")
    res = WikiReader("wiki", "wiki", WikiReader.Config(max_page_bytes=len(page3.encode()) * 20)).read(Unit(str(p)))
    # 8 real pages minus page 3, replaced by 3 hostile copies: 7 kept, 1 oversized, 2 errors
    assert res.kept.num_rows == 7
    assert res.dropped.column("reason").to_pylist() == ["wiki:oversized"]
    assert res.errors.column("reason").to_pylist() == ["error:XMLSyntaxError", "error:XMLSyntaxError"]
    titles = [decode_meta(m)["title"] for m in res.kept.column("meta").to_pylist()]
    real_titles = re.findall(r"<title>([^<]*)</title>", xml)
    assert titles == real_titles[:2] + real_titles[3:]  # everything after the bad pages is read


@pytest.mark.timeout(120)
@pytest.mark.parametrize("opener", ["{{lang|", "[[Toronto|", "{|\n", "&lt;ref&gt;", "[http://example.org "])
def test_unclosed_wikitext_markup_is_bounded(corpus: Path, tmp_path: Path, opener: str) -> None:
    xml = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes()).decode("utf-8")
    ends = [m.end() for m in re.finditer("</page>", xml)]
    xml = xml[: ends[7]] + "\n</mediawiki>\n"  # the first 8 real pages (no redirect among them)
    at = list(re.finditer(r"<text[^>]*>", xml))[4].end() + 200  # inside the 5th page's wikitext
    p = tmp_path / "hostile.xml"
    p.write_text(xml[:at] + opener * 20_000 + xml[at:], encoding="utf-8")
    res = WikiReader("wiki", "wiki").read(Unit(str(p)))
    assert "<redirect" not in xml and res.kept.num_rows == 7 and res.errors.num_rows == 0
    assert res.dropped.column("reason").to_pylist() == ["wiki:template_bound"]


@pytest.mark.timeout(120)
def test_real_wiki_pages_stay_far_below_the_markup_bound(corpus: Path) -> None:
    xml = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes()).decode("utf-8")
    depths = [markup_depth(html.unescape(t)) for t in re.findall(r"<text[^>]*>(.*?)</text>", xml, re.S)]
    assert len(depths) == 71 and max(depths) <= 12 < WikiReader.Config().max_markup_depth  # ukwiki, jawiki: 10, 12
