"""Text repair (ftfy) on real text: books turned into mojibake are restored, correct text is left alone,
natural mojibake and control characters in the corpus are fixed and counted."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import ftfy.bad_codecs  # noqa: F401  (registers sloppy-windows-1252: how Windows and browsers decode)
import pytest

from curate.filters.fix_text import FixTextStage
from curate.pipeline import Pipeline
from curate.recipe import RecipeError
from curate.schema import docs_table


def docs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("codec", ["sloppy-windows-1252", "latin-1"])
def test_books_read_with_the_wrong_codec_are_restored(corpus, codec):
    stage = FixTextStage()
    damaged = restored = 0
    for name in ("11-0.txt", "Madame_Bovary_GustaveFlaubert.txt", "pg2000.txt"):
        text = (corpus / "books" / name).read_text(encoding="utf-8-sig")
        bad = text.encode("utf-8").decode(codec)  # UTF-8 bytes read as Windows-1252 / Latin-1
        counts: Counter = Counter()
        fixed = stage.fix(bad, counts)
        pairs = [(b, f, t) for b, f, t in zip(bad.splitlines(), fixed.splitlines(), text.splitlines()) if b != t]
        damaged += len(pairs)
        restored += sum(f == t for _, f, t in pairs)
        assert counts["mojibake"] >= len(pairs) * 0.99
    assert damaged > 30000 and restored / damaged >= 0.995


def test_correct_text_is_untouched_and_natural_damage_is_fixed_and_counted(corpus):
    rows = docs(corpus / "dedup" / "docs.jsonl") + docs(corpus / "cjk" / "docs.jsonl")
    batch = docs_table(
        {"id": d["id"], "source": "t", "kind": "web", "url": None, "text": d["text"], "meta": {}} for d in rows
    )
    r = FixTextStage().apply(batch, None)
    assert r.kept.num_rows == batch.num_rows and not r.dropped.num_rows and not r.errors.num_rows
    before = {d["id"]: d["text"] for d in rows}
    changed = {
        i: t for i, t in zip(r.kept.column("id").to_pylist(), r.kept.column("text").to_pylist()) if t != before[i]
    }
    assert 1 <= len(changed) <= 10  # of 460 real documents: a mojibake word, control characters, BOMs
    assert any("Hebebühne" in t and "HebebÃ¼hne" in before[i] for i, t in changed.items())
    assert r.counters["fix_text_docs"] == len(changed)
    assert r.counters["fix_text_mojibake"] >= 1 and r.counters["fix_text_remove_control_chars"] >= 3
    metas = {i: json.loads(m) for i, m in zip(r.kept.column("id").to_pylist(), r.kept.column("meta").to_pylist())}
    assert all("fix_text" in metas[i] for i in changed) and sum("fix_text" in m for m in metas.values()) == len(changed)


def test_cosmetic_fixes_are_opt_in_and_settings_are_checked(corpus, tmp_path):
    text = (corpus / "books" / "11-0.txt").read_text(encoding="utf-8-sig")[:20000]
    assert "’" in text
    assert FixTextStage().fix(text, Counter()) == text  # curly quotes are correct text: kept by default
    counts: Counter = Counter()
    straight = FixTextStage(FixTextStage.Config(uncurl_quotes=True)).fix(text, counts)
    assert "’" not in straight and counts["uncurl_quotes"] > 10
    raw = {
        "name": "f",
        "workers": 0,
        "sources": [{"name": "d", "kind": "web", "format": "jsonl", "paths": [str(corpus / "cjk" / "docs.jsonl")]}],
        "stages": [{"fix_text": {"normalization": "NFD"}}],
    }
    with pytest.raises(RecipeError, match=r"stages\[0\]\.fix_text\.normalization: 'NFD' is not one of"):
        Pipeline.from_dict(raw)
    raw["stages"] = [{"fix_text": {}}]
    s = Pipeline.from_dict(raw).run(out=tmp_path / "r", log=lambda m: None)["stages"][1]
    assert s["reconciles"] and s["kept"] == s["in"] == 60 and s["counters"]["fix_text_docs"] >= 2
