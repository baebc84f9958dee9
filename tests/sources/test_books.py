"""BooksReader on the 13 real Project Gutenberg books (3 marker styles, cp1252/CRLF copies) and bad input:
UTF-16 with or without a byte order mark is text, a cut compressed book is an error, not a fragment.
"""

from __future__ import annotations

import codecs
import gzip
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

from curate.sources.base import Unit
from curate.sources.books import BooksReader
from curate.sources.code import CodeReader
from tests.support.readers import counts


def test_every_book_stripped_with_metadata(corpus: Path) -> None:
    r = BooksReader("books", "books")
    for line in (corpus / "books" / "books.jsonl").read_text(encoding="utf-8").splitlines():
        idx = json.loads(line)
        res = r.read(Unit(str(corpus / "books" / idx["file"])))
        assert res.kept.num_rows == 1 and not res.dropped.num_rows and not res.errors.num_rows
        doc = res.kept.to_pylist()[0]
        text, meta = doc["text"], json.loads(doc["meta"])
        for marker in (idx["start_marker"], idx["end_marker"].strip()):
            assert marker not in text
        assert "Project Gutenberg License" not in text and "\r" not in text and not text.startswith("\ufeff")
        assert meta["pg_number"] == str(idx["pg_ebook"]) and meta["author"] == idx["author"]
        assert meta["title"].startswith(idx["title"])
        assert meta["encoding"] == ("utf-8-sig" if idx["utf8_bom"] else idx["encoding"].split()[0])


def test_known_openings_and_endings(corpus: Path) -> None:
    r = BooksReader("books", "books")
    alice = r.read(Unit(str(corpus / "books" / "11-0.txt"))).kept.to_pylist()[0]["text"]
    assert alice.startswith("ALICE’S ADVENTURES IN WONDERLAND") and alice.endswith("THE END")
    pride = r.read(Unit(str(corpus / "books" / "pg1342.txt"))).kept.to_pylist()[0]["text"]  # indented END
    assert "END OF THE PROJECT GUTENBERG" not in pride
    room = r.read(Unit(str(corpus / "books" / "pg2641.txt"))).kept.to_pylist()[0]["text"]  # cp1252 + CRLF
    assert room.endswith("snows\nof winter into the Mediterranean.")


def test_bad_inputs_are_counted(tmp_path: Path) -> None:
    r = BooksReader("books", "books")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 \x81 au lait\r\n")  # not UTF-8, not even cp1252
    assert r.read(Unit(str(tmp_path / "empty.txt"))).dropped.column("reason").to_pylist() == ["books:empty"]
    assert r.read(Unit(str(tmp_path / "bin.txt"))).dropped.column("reason").to_pylist() == ["books:binary"]
    bad = r.read(Unit(str(tmp_path / "bad.txt"))).kept.to_pylist()[0]
    assert bad["text"].startswith("café") and json.loads(bad["meta"])["encoding"] == "latin-1"
    assert r.read(Unit(str(tmp_path / "nope.txt"))).errors.num_rows == 1


def test_books_honour_utf16_boms(corpus: Path, tmp_path: Path) -> None:
    text = (corpus / "books" / "pg84.txt").read_bytes().decode("cp1252")
    (tmp_path / "le.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    (tmp_path / "be.txt").write_bytes(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    r = BooksReader("books", "books")
    want = r.read(Unit(str(corpus / "books" / "pg84.txt"))).kept.column("text").to_pylist()
    for name in ("le.txt", "be.txt"):
        assert r.read(Unit(str(tmp_path / name))).kept.column("text").to_pylist() == want


def test_a_cut_compressed_book_is_an_error_not_a_fragment(corpus: Path, tmp_path: Path) -> None:
    book = gzip.compress((corpus / "books" / "pg84.txt").read_bytes())
    (tmp_path / "pg84.txt.gz").write_bytes(book[: len(book) // 2])
    assert counts(BooksReader("b", "books").read(Unit(str(tmp_path / "pg84.txt.gz")))) == (
        0,
        Counter(),
        Counter({"error:EOFError": 1}),
    )


def test_utf16_without_a_byte_order_mark_is_text_not_binary(corpus: Path, stdlib_dir: Path, tmp_path: Path) -> None:
    text = (corpus / "books" / "pg84.txt").read_bytes().decode("cp1252")
    (tmp_path / "le.txt").write_bytes(text.encode("utf-16-le"))
    (tmp_path / "be.txt").write_bytes(text.encode("utf-16-be"))
    r = BooksReader("books", "books")
    want = r.read(Unit(str(corpus / "books" / "pg84.txt"))).kept.column("text").to_pylist()
    for name in ("le.txt", "be.txt"):  # UTF-16 without a byte-order mark is text, not books:binary for its NUL bytes
        assert r.read(Unit(str(tmp_path / name))).kept.column("text").to_pylist() == want
    repo = tmp_path / "repo"
    repo.mkdir()
    source = (stdlib_dir / "json" / "encoder.py").read_text(encoding="utf-8")
    (repo / "bom.py").write_bytes(source.encode("utf-16"))  # with a BOM (Windows editors)
    (repo / "nobom.py").write_bytes(source.encode("utf-16-le"))
    shutil.copy(Path(sys.executable).resolve(), repo / "python.py")  # still binary
    res = CodeReader("code", "code").read(Unit(str(repo)))
    assert res.kept.column("text").to_pylist() == [source, source]  # both read as text, neither code:binary
    assert res.dropped.column("reason").to_pylist() == ["code:binary"]
