"""Books sample: the Jargon File, The Devil's Dictionary and the King James Bible, as plain UTF-8 text."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

from curate.sample.debian import read_dictd, require

JARGON = "/usr/share/doc/jargon-text/jargon.txt.gz"
DEVIL_INDEX, DEVIL_DATA = "/usr/share/dictd/devil.index", "/usr/share/dictd/devil.dict.dz"
# Canonical first and last verses of each testament, as the `bible` program names them.
TESTAMENTS = {"kjv-old-testament": "Gen1:1-Mal4:6", "kjv-new-testament": "Mat1:1-Rev22:21"}


def jargon_text() -> str:
    """The Jargon File 4.4.7 (jargon-text), gunzipped."""
    with gzip.open(require("jargon-text", JARGON), "rt", encoding="utf-8") as f:
        return f.read()


def devil_text() -> str:
    """The Devil's Dictionary (dict-devil): the edition notice and preface, then every entry in order."""
    require("dict-devil", DEVIL_INDEX)
    entries = read_dictd(DEVIL_INDEX, DEVIL_DATA)
    front = [e.text for e in entries if e.headwords[0] == "00databaseinfo"]
    body = [e.text for e in entries if not e.headwords[0].startswith(("00database", "00-database"))]
    return "".join(t.rstrip("\n") + "\n\n" for t in front + body)


def kjv_text(verses: str) -> str:
    """A verse range of the KJV from bible-kjv's ``bible`` program, pretty-printed at 79 columns."""
    exe = require("bible-kjv")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    res = subprocess.run(
        [str(exe), "-l", "79", verses], stdin=subprocess.DEVNULL, capture_output=True, env=env, check=True, timeout=120
    )
    return res.stdout.decode("utf-8").lstrip("\n")


def write_books(out_dir: Path, max_bytes: int = 0) -> dict[str, dict[str, int]]:
    """Write the books as ``<name>.txt``; ``max_bytes`` > 0 truncates each at a line boundary."""
    books = {"jargon-file-4.4.7": jargon_text(), "devils-dictionary": devil_text()}
    books.update({name: kjv_text(verses) for name, verses in TESTAMENTS.items()})
    stats = {}
    for name, text in books.items():
        data = text.encode("utf-8")
        if max_bytes and len(data) > max_bytes:
            data = data[: data.rfind(b"\n", 0, max_bytes) + 1]
        (out_dir / f"{name}.txt").write_bytes(data)
        stats[name] = {"docs": 1, "bytes": len(data)}
    return stats
