"""WikiReader on the real dumps (sample, ukwiki and jawiki heads) and on hostile/corrupt XML."""
from __future__ import annotations

import bz2
import json
from collections import Counter
from pathlib import Path

from curate.sources.base import Unit
from curate.sources.wiki import WikiReader, site_base
from curate.sources.wikitext import WikitextCleaner


def read(path: Path | str):
    res = WikiReader("wiki", "wiki").read(Unit(str(path)))
    return (res.kept.to_pylist(), Counter(res.dropped.column("reason").to_pylist()),
            Counter(res.errors.column("reason").to_pylist()))


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
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE mediawiki [{ents}]><mediawiki><page><title>Bomb</title><ns>0</ns>'
            "<id>1</id><revision><id>1</id><text>&lol9;</text></revision></page></mediawiki>")
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
    groups = [body[a:b] for a, b in zip(cuts[::pages_per_stream], cuts[pages_per_stream::pages_per_stream] + [len(body)])]
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
    assert [(d["id"], d["url"], d["text"], d["meta"]) for d in kept_s] == \
        [(d["id"], d["url"], d["text"], d["meta"]) for d in kept]
    assert dropped_s == dropped and errors_s == errors


def test_single_stream_and_pbzip2_style_files_are_not_split(corpus: Path, tmp_path: Path) -> None:
    src = corpus / "wiki" / "ukwiki-20230501-pages-articles-multistream.head.xml.bz2"  # one stream
    assert WikiReader("w", "w", WikiReader.Config(split_bytes=100_000)).units([str(src)]) == [Unit(str(src))]
    xml = bz2.decompress(src.read_bytes())  # streams cut every 300 kB, mid-page: no stream starts with <page
    cut = tmp_path / "pbzip2.xml.bz2"
    cut.write_bytes(b"".join(bz2.compress(xml[i:i + 300_000]) for i in range(0, len(xml), 300_000)))
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
    garbage.write_bytes(raw[: len(raw) // 2] + bytes(b ^ 0x55 for b in raw[len(raw) // 2: len(raw) // 2 + 5000])
                        + raw[len(raw) // 2 + 5000:])
    units, kept_g, dropped_g, errors_g = _read_units(garbage, 400_000)
    assert errors_g and 0 < len(kept_g) < 532
