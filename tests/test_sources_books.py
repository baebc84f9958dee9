"""BooksReader on the 13 real Project Gutenberg books (3 marker styles, cp1252/CRLF copies) and bad input."""
from __future__ import annotations

import json
from pathlib import Path

from curate.sources.base import Unit
from curate.sources.books import BooksReader


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
