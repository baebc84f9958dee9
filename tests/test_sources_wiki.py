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
    m = dict(toronto["meta"])
    assert m["title"] == "Toronto" and m["page_id"] and m["rev_id"] and m["timestamp"]


def test_real_ukwiki_and_jawiki_heads(corpus: Path) -> None:
    kept, dropped, errors = read(corpus / "wiki" / "ukwiki-20230501-pages-articles-multistream.head.xml.bz2")
    assert len(kept) + sum(dropped.values()) == 532 and not errors
    assert len(kept) + dropped["wiki:redirect"] == 525  # ns0 pages
    assert all(d["url"].startswith("https://uk.wikipedia.org/wiki/") for d in kept)
    assert not any("Файл:" in d["text"] or "[[" in d["text"] or "{{" in d["text"] for d in kept)
    kept, dropped, errors = read(corpus / "wiki" / "jawiki-20230501-pages-articles-multistream.head.xml.bz2")
    assert len(kept) + sum(dropped.values()) == 238 and len(kept) + dropped["wiki:redirect"] == 204
    geo = next(d for d in kept if dict(d["meta"])["title"] == "地理学")
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
