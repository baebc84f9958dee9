"""Issue 14, class 3: a record is the unit of failure. A bad record (a lone surrogate, a line nested 100k
deep, an oversized or malformed wiki page) is dropped or errored with its reason and location, and the
reader goes on: every record after it is read and counted. An undecodable file name does not abort the
run. Inputs: real JSONL documents, real HTML pages, real wiki pages and real books, with one hostile
record spliced in among them.
"""
from __future__ import annotations

import bz2
import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from curate.schema import decode_meta
from curate.pipeline import Pipeline
from curate.sources.base import Unit
from curate.sources.tabular import JsonlReader
from curate.sources.wiki import WikiReader


def test_jsonl_bad_lines_error_alone(corpus: Path, tmp_path: Path) -> None:
    real = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    doc = json.loads(real[0])
    surrogate = json.dumps(doc).replace('"text": "', '"text": "\\ud800', 1)  # valid JSON, invalid Unicode
    deep = "[" * 100_000 + "]" * 100_000
    bad_url = json.dumps({"text": doc["text"], "url": "https://example.org/"}).replace("org/", "org/\\udcff")
    p = tmp_path / "docs.jsonl"
    p.write_text("\n".join(real[:20] + [surrogate, deep, bad_url] + real[20:]) + "\n", encoding="utf-8")
    res = JsonlReader("d", "web", JsonlReader.Config(id_field="id", url_field="url")).read(Unit(str(p)))
    assert res.kept.num_rows == 41 and res.dropped.num_rows == 0  # 40 real lines + the sanitised URL
    assert Counter(res.errors.column("reason").to_pylist()) == {"input:invalid_unicode": 1, "jsonl:too_deep": 1}
    assert [decode_meta(m)["line"] for m in res.errors.column("meta").to_pylist()] == [21, 22]
    assert "https://example.org/\\udcff" in res.kept.column("url").to_pylist()


def test_html_page_with_a_lone_surrogate_errors_alone(corpus: Path, tmp_path: Path) -> None:
    pages = sorted((corpus / "web" / "html").glob("*.html"))[:6]
    rows = [{"url": f"https://example.org/{i}", "html": p.read_text("utf-8", "replace")} for i, p in enumerate(pages)]
    rows[2]["html"] = rows[2]["html"].replace("<body", "<body>\ud83d", 1)  # half of a surrogate pair
    p = tmp_path / "pages.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    summary = Pipeline.from_dict({"name": "h", "workers": 0, "stages": [{"extract": {}}], "sources": [
        {"name": "web", "kind": "web", "format": "jsonl", "paths": [str(p)],
         "options": {"text_field": "html", "url_field": "url"}}]}).run(out=run, workers=0, log=lambda m: None)
    read, extract = summary["stages"]
    assert (read["in"], read["kept"], read["errors"]) == (6, 5, {"input:invalid_unicode": 1})
    assert extract["in"] == 5 and extract["kept"] + extract["dropped_total"] + extract["errors_total"] == 5


def _wiki_head(corpus: Path, pages: int) -> tuple[str, list[int]]:
    xml = bz2.decompress((corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2").read_bytes()).decode("utf-8")
    ends = [m.end() for m in re.finditer("</page>", xml)]
    return xml[: ends[pages - 1]], ends


def test_wiki_bad_pages_error_alone_and_later_pages_are_read(corpus: Path, tmp_path: Path) -> None:
    xml, ends = _wiki_head(corpus, 8)
    starts = [m.start() for m in re.finditer("<page>", xml)]
    page3 = xml[starts[2]:ends[2]]
    bad_char = page3.replace("xml:space=\"preserve\">", "xml:space=\"preserve\">&#xD800;", 1)
    body = re.search(r"<text[^>]*>(.*?)</text>", page3, re.S)
    huge = page3[: body.start(1)] + body.group(1) * 60 + page3[body.end(1):]  # 60 times the page's text
    broken = page3.replace("</title>", "</titel>", 1)  # malformed XML inside one page
    hostile = xml[: starts[2]] + bad_char + huge + broken + xml[starts[3]:] + "\n</mediawiki>\n"
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


def test_undecodable_file_names_do_not_abort_the_run(corpus: Path, tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    shutil.copy(corpus / "books" / "pg84.txt", books / "pg84.txt")
    shutil.copy(corpus / "books" / "11-0.txt", os.path.join(os.fsencode(books), b"\xff\xfe-alice.txt"))
    code = tmp_path / "repo"
    code.mkdir()
    shutil.copy(Path(json.__file__).parent / "decoder.py", os.path.join(os.fsencode(code), b"d\xe9coder.py"))
    run = tmp_path / "run"
    summary = Pipeline.from_dict({"name": "n", "workers": 0, "stages": [], "sources": [
        {"name": "books", "kind": "books", "format": "text", "paths": [str(books / "*.txt")]},
        {"name": "code", "kind": "code", "format": "code", "paths": [str(code)]}]}).run(
        out=run, workers=0, log=lambda m: None)
    read = summary["stages"][0]
    assert (read["in"], read["kept"], read["dropped_total"], read["errors_total"]) == (3, 3, 0, 0)
    urls = [u for p in sorted((run / "stages" / "00_read").glob("part-*.parquet"))
            for u in pq.read_table(p).column("url").to_pylist()]
    assert any(u.endswith("\\udcff\\udcfe-alice.txt") for u in urls) and any("d\\udce9coder.py" in u for u in urls)
