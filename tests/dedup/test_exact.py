"""Exact dedup on text as written: Unicode NFC and NFD spellings of the same real text are one text."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from curate.dedup.exact import ExactDedupStage


def _french_paragraphs(corpus: Path, n: int) -> list[str]:
    text = (corpus / "books" / "20000-Lieues-sous-les-mers.txt").read_text("utf-8", "replace")
    paras = [p.strip() for p in re.split(r"\r?\n\s*\r?\n", text) if len(p) > 300]
    return [unicodedata.normalize("NFC", p) for p in paras if p != unicodedata.normalize("NFD", p)][:n]


@pytest.mark.parametrize("form,removed", [("NFC", 12), ("none", 0)])
def test_exact_dedup_sees_nfc_and_nfd_spellings_as_one_text(
    corpus: Path, tmp_path: Path, form: str, removed: int
) -> None:
    from tests.dedup.test_dedup import run_stage, write_parts

    paras = _french_paragraphs(corpus, 12)
    assert len(paras) == 12
    rows = [
        {"id": f"nfc-{i:02d}", "source": "books", "kind": "books", "url": None, "text": p, "meta": {}}
        for i, p in enumerate(paras)
    ]
    rows += [
        {
            "id": f"nfd-{i:02d}",
            "source": "mirror",
            "kind": "books",
            "url": None,
            "text": unicodedata.normalize("NFD", p),
            "meta": {},
        }
        for i, p in enumerate(paras)
    ]
    state, kept, dropped = run_stage(
        ExactDedupStage(ExactDedupStage.Config(unicode_form=form)),
        write_parts(rows, tmp_path / "parts", 3),
        tmp_path / "work",
    )
    assert dropped.num_rows == removed and kept.num_rows == 24 - removed  # removed by default
    if removed:
        assert sorted(dropped.column("id").to_pylist()) == [f"nfd-{i:02d}" for i in range(12)]
