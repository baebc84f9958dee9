"""The code point tables of the numba shingler say what ``units``' regexes say, on real text and across the range."""

from __future__ import annotations

import bz2
import json
from pathlib import Path

from curate.dedup.shingle import _CJK, _WORD, char_tables


def test_char_tables_agree_with_the_regexes(corpus: Path) -> None:
    with bz2.open(corpus / "wiki" / "jawiki-20230501-pages-articles-multistream.head.xml.bz2", "rt") as f:
        text = f.read(200_000)
    text += "".join(json.loads(line)["text"] for line in (corpus / "cjk" / "docs.jsonl").open(encoding="utf-8"))
    points = {ord(c) for c in text} | set(range(0x3000)) | set(range(0x3000, 0x110000, 97))
    word, cjk = char_tables()
    assert sum(cjk[p] for p in points) > 1000  # the real CJK text is in the sample
    for p in points:
        c = chr(p)
        assert word[p] == bool(_WORD.match(c)) and cjk[p] == (word[p] and bool(_CJK.match(c))), hex(p)
