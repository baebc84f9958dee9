"""A source reads regular files inside its root only. A symlink that leads out of the root is dropped
(``input:outside_root``) and its target's text never reaches a document, also through a standalone command's
glob or a linked directory; a FIFO, socket or device is dropped (``input:not_regular``) without being opened, so
it cannot block the reader; an undecodable file name, a name holding glob characters and a ``file://`` URL are
read; a remote input that cannot be read is one clear error at planning. Inputs: real books, real stdlib code
and real JSONL documents, with hostile links and FIFOs added next to them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.io import expand_paths
from curate.pipeline import Pipeline
from curate.recipe import RecipeError
from curate.schema import decode_meta
from curate.sources.base import Unit
from curate.sources.code import CodeReader
from curate.standalone import run_recipe

pytestmark = pytest.mark.timeout(120)  # a FIFO that is opened blocks forever: fail instead of hanging


def _texts(run: Path) -> list[str]:
    return [
        t
        for p in sorted((run / "stages" / "00_read").glob("part-*.parquet"))
        for t in pq.read_table(p).column("text").to_pylist()
    ]


def _read_only(tmp_path: Path, sources: list[dict]) -> dict:
    run = tmp_path / "run"
    summary = Pipeline.from_dict({"name": "r", "workers": 0, "sources": sources, "stages": []}).run(
        out=run, workers=0, log=lambda m: None
    )
    return summary["stages"][0]


def test_code_repo_links_out_of_root_and_fifos_are_never_read(stdlib_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "id_rsa.py"
    shutil.copy(stdlib_dir / "json" / "scanner.py", secret)  # real text that must not leak
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    for name in ("decoder.py", "encoder.py"):
        shutil.copy(stdlib_dir / "json" / name, repo / "pkg" / name)
    (repo / "leak.py").symlink_to(secret)  # a file link out of the root
    (repo / "etc").symlink_to(outside, target_is_directory=True)  # a directory link out of the root
    (repo / "passwd.py").symlink_to("/etc/passwd")  # a system file
    (repo / "alias.py").symlink_to(repo / "pkg" / "decoder.py")  # inside the root: read like the file
    os.mkfifo(repo / "pipe.py")

    res = CodeReader("code", "code").read(Unit(str(repo)))
    kept = res.kept.to_pylist()
    assert sorted(decode_meta(d["meta"])["path"] for d in kept) == ["alias.py", "pkg/decoder.py", "pkg/encoder.py"]
    # the file link, the directory link (never entered) and the system-file link; the FIFO never opened
    assert Counter(res.dropped.column("reason").to_pylist()) == {"input:outside_root": 3, "input:not_regular": 1}
    assert res.errors.num_rows == 0
    assert res.kept.num_rows + res.dropped.num_rows + res.errors.num_rows == 7  # one row per entry
    assert not any(secret.read_text() in d["text"] for d in kept)
    assert not any("root:x:0:0" in d["text"] for d in kept)


def test_repos_layout_never_enters_a_repository_that_links_out(stdlib_dir: Path, tmp_path: Path) -> None:
    repos = tmp_path / "repos"
    (repos / "a").mkdir(parents=True)
    shutil.copy(stdlib_dir / "json" / "tool.py", repos / "a" / "tool.py")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(stdlib_dir / "json" / "scanner.py", outside / "scanner.py")
    (repos / "b").symlink_to(outside, target_is_directory=True)
    r = CodeReader("code", "code", CodeReader.Config(layout="repos"))
    results = [r.read(u) for u in r.units(expand_paths([str(repos)], "paths"))]
    assert sum(x.kept.num_rows for x in results) == 1
    assert [x.dropped.column("reason").to_pylist() for x in results] == [[], ["input:outside_root"]]


def test_books_glob_drops_links_out_of_the_pattern_root_and_fifos(corpus: Path, tmp_path: Path) -> None:
    books, outside = tmp_path / "books", tmp_path / "private"
    books.mkdir()
    outside.mkdir()
    for name in ("pg84.txt", "11-0.txt"):
        shutil.copy(corpus / "books" / name, books / name)
    shutil.copy(corpus / "books" / "pg64317.txt", outside / "diary.txt")
    (books / "diary.txt").symlink_to(outside / "diary.txt")
    (books / "shadow.txt").symlink_to("/etc/shadow")
    (books / "copy.txt").symlink_to(books / "pg84.txt")  # inside the root
    os.mkfifo(books / "fifo.txt")
    read = _read_only(tmp_path, [{"name": "books", "kind": "books", "format": "text", "paths": [str(books / "*.txt")]}])
    assert read["in"] == 6 and read["kept"] == 3
    assert read["dropped"] == {"input:not_regular": 1, "input:outside_root": 2} and read["errors"] == {}
    gatsby = (outside / "diary.txt").read_text(encoding="cp1252")
    assert not any("Gatsby" in t for t in _texts(tmp_path / "run")) and "Gatsby" in gatsby


def test_jsonl_and_warc_globs_skip_fifos_and_links_out(corpus: Path, tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()
    (d / "a.jsonl").write_text("\n".join(lines[:30]) + "\n", encoding="utf-8")
    (tmp_path / "secret.jsonl").write_text("\n".join(lines[30:40]) + "\n", encoding="utf-8")
    (d / "b.jsonl").symlink_to(tmp_path / "secret.jsonl")
    os.mkfifo(d / "c.jsonl")
    os.mkfifo(d / "d.warc.gz")
    read = _read_only(
        tmp_path,
        [
            {"name": "docs", "kind": "web", "format": "jsonl", "paths": [str(d / "*.jsonl")]},
            {"name": "web", "kind": "web", "format": "warc", "paths": [str(d / "*.warc.gz")]},
        ],
    )
    assert read["kept"] == 30 and read["in"] == 33
    assert read["dropped"] == {"input:not_regular": 2, "input:outside_root": 1}
    secret_ids = {json.loads(x)["id"] for x in lines[30:40]}
    assert not any(json.loads(x)["text"] in _texts(tmp_path / "run") for x in lines[30:40]) and secret_ids


def test_a_books_directory_is_walked_with_the_same_rules(corpus: Path, tmp_path: Path) -> None:
    books = tmp_path / "books"
    (books / "en").mkdir(parents=True)
    shutil.copy(corpus / "books" / "pg84.txt", books / "en" / "pg84.txt")
    shutil.copy(corpus / "books" / "pg2000.txt", books / "pg2000.txt")
    (books / "en" / "hosts.txt").symlink_to("/etc/hosts")
    os.mkfifo(books / "en" / "fifo.txt")
    read = _read_only(tmp_path, [{"name": "books", "kind": "books", "format": "text", "paths": [str(books)]}])
    assert (read["in"], read["kept"]) == (4, 2)
    assert read["dropped"] == {"input:not_regular": 1, "input:outside_root": 1} and read["errors"] == {}


def test_a_standalone_command_glob_never_reads_a_link_out_of_its_root(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.jsonl").write_text("".join(lines[:5]), encoding="utf-8")
    (tmp_path / "secret.jsonl").write_text("".join(lines[100:104]), encoding="utf-8")
    (d / "b.jsonl").symlink_to(tmp_path / "secret.jsonl")
    (d / ".c.jsonl").symlink_to(d / "a.jsonl")  # a link inside the root: read like the file
    summary = run_recipe("t", [str(d / "*.jsonl"), str(d / ".*.jsonl")], [], tmp_path / "run")
    read = summary["stages"][0]
    assert (read["in"], read["kept"], read["dropped"]) == (
        11,
        10,
        {"input:outside_root": 1},
    )  # the file outside the root is dropped, not read
    texts = [
        t
        for p in sorted((tmp_path / "run" / "stages" / "00_read").glob("part-*.parquet"))
        for t in pq.read_table(p).column("text").to_pylist()
    ]
    assert not any(json.loads(x)["text"] in texts for x in lines[100:104])


def test_a_glob_through_a_directory_link_out_of_its_root_reads_nothing_there(corpus: Path, tmp_path: Path) -> None:
    books, private = tmp_path / "books", tmp_path / "private"
    books.mkdir()
    private.mkdir()
    shutil.copy(corpus / "books" / "pg84.txt", books / "pg84.txt")
    shutil.copy(corpus / "books" / "pg64317.txt", private / "diary.txt")
    (books / "shelf").symlink_to(private, target_is_directory=True)
    (books / "root").symlink_to("/", target_is_directory=True)  # never walked: listed once and refused
    summary = Pipeline.from_dict(
        {
            "name": "l",
            "workers": 0,
            "stages": [],
            "sources": [
                {"name": "a", "kind": "books", "format": "text", "paths": [str(books / "*")]},  # matches the links
                {"name": "b", "kind": "books", "format": "text", "paths": [str(books / "*" / "*.txt")]},
            ],
        }
    ).run(out=tmp_path / "run", workers=0, log=lambda m: None)
    read = summary["stages"][0]
    assert read["by_source"] == {"a": {"in": 3, "kept": 1, "dropped": 2}, "b": {"in": 1, "dropped": 1}}
    assert read["dropped"] == {"input:outside_root": 3}  # a file matched by two patterns is read once


@pytest.mark.parametrize(
    "url,cause",
    [
        ("http://127.0.0.1:9/docs.jsonl", "ClientConnectorError"),  # nothing listens
        ("nosuchproto://bucket/docs.jsonl", "Protocol not known"),
        ("s3://bucket/*.jsonl", "s3fs"),
    ],
)  # not installed
def test_a_remote_input_that_cannot_be_read_is_one_clear_error_at_planning(
    tmp_path: Path, url: str, cause: str
) -> None:
    pipe = Pipeline.from_dict(
        {
            "name": "u",
            "workers": 0,
            "stages": [],
            "sources": [{"name": "docs", "kind": "web", "format": "jsonl", "paths": [url]}],
        }
    )
    with pytest.raises(RecipeError) as e:  # a RecipeError naming the key, nothing read
        pipe.run(out=tmp_path / "run", workers=0, log=lambda m: None)
    assert str(e.value).startswith(f"sources[0] (docs).paths: remote input '{url}' cannot be read (")
    assert cause in str(e.value) and "\n" not in str(e.value)


def test_a_file_url_names_a_local_input(corpus: Path, tmp_path: Path) -> None:
    summary = Pipeline.from_dict(
        {
            "name": "f",
            "workers": 0,
            "stages": [],
            "sources": [
                {"name": "docs", "kind": "web", "format": "jsonl", "paths": [f"file://{corpus}/dedup/docs.jsonl"]}
            ],
        },
        base_dir=tmp_path,
    ).run(out=tmp_path / "run", workers=0, log=lambda m: None)
    assert summary["stages"][0]["kept"] == 400  # resolved against the working directory


def test_a_file_whose_name_holds_glob_characters_can_be_named(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "page[1].jsonl").write_text("".join(lines[:3]), encoding="utf-8")
    (tmp_path / "page1.jsonl").write_text("".join(lines[3:5]), encoding="utf-8")  # what the glob would match
    assert expand_paths([str(tmp_path / "page[1].jsonl")], "paths") == [str(tmp_path / "page[1].jsonl")]
    assert expand_paths([str(tmp_path / "page[0-9].jsonl")], "paths") == [str(tmp_path / "page1.jsonl")]


def test_undecodable_file_names_do_not_abort_the_run(corpus: Path, tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    shutil.copy(corpus / "books" / "pg84.txt", books / "pg84.txt")
    shutil.copy(corpus / "books" / "11-0.txt", os.path.join(os.fsencode(books), b"\xff\xfe-alice.txt"))
    code = tmp_path / "repo"
    code.mkdir()
    shutil.copy(Path(json.__file__).parent / "decoder.py", os.path.join(os.fsencode(code), b"d\xe9coder.py"))
    run = tmp_path / "run"
    summary = Pipeline.from_dict(
        {
            "name": "n",
            "workers": 0,
            "stages": [],
            "sources": [
                {"name": "books", "kind": "books", "format": "text", "paths": [str(books / "*.txt")]},
                {"name": "code", "kind": "code", "format": "code", "paths": [str(code)]},
            ],
        }
    ).run(out=run, workers=0, log=lambda m: None)
    read = summary["stages"][0]
    assert (read["in"], read["kept"], read["dropped_total"], read["errors_total"]) == (3, 3, 0, 0)
    urls = [
        u
        for p in sorted((run / "stages" / "00_read").glob("part-*.parquet"))
        for u in pq.read_table(p).column("url").to_pylist()
    ]
    assert any(u.endswith("\\udcff\\udcfe-alice.txt") for u in urls) and any("d\\udce9coder.py" in u for u in urls)
