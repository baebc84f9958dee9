"""Code filters on the CPython standard library: hand-written modules kept, planted minified, generated and
encoded files (made from real stdlib files) dropped, and LF/CRLF/CR files measured alike."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from curate.filters.code_filters import CodeFilterStage, check
from curate.pipeline import Pipeline
from curate.recipe import RecipeError
from curate.schema import docs_table


def modules(stdlib_dir: Path) -> dict[str, str]:
    """Every decodable, non-empty module of the standard library (site-packages excluded)."""
    out = {}
    for f in sorted(stdlib_dir.rglob("*.py")):
        if "site-packages" in f.parts:
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if text.strip():
            out[str(f.relative_to(stdlib_dir))] = text
    return out


@pytest.fixture(scope="module")
def stdlib(stdlib_dir) -> dict[str, str]:
    found = modules(stdlib_dir)
    assert len(found) >= 500
    return found


def run(stage: CodeFilterStage, files: dict[str, str], lang: str = "python") -> dict[str, str | None]:
    """{path: drop reason or None} through the stage's apply."""
    batch = docs_table(
        {"id": p, "source": "code", "kind": "code", "url": p, "text": t, "meta": {"lang": lang}}
        for p, t in files.items()
    )
    r = stage.apply(batch, None)
    out = dict.fromkeys(r.kept.column("id").to_pylist())
    out.update(zip(r.dropped.column("id").to_pylist(), r.dropped.column("reason").to_pylist()))
    assert len(out) == len(files) and not r.errors.num_rows
    return out


def test_the_stdlib_keeps_at_least_95_percent_of_its_modules(stdlib):
    decisions = run(CodeFilterStage(), stdlib)
    kept = sum(r is None for r in decisions.values())
    assert kept / len(stdlib) >= 0.95, sorted((r, p) for p, r in decisions.items() if r)[:40]
    dropped = {p: r for p, r in decisions.items() if r}
    # what goes are real generated or data-carrying modules, each for its rule
    assert dropped.get("pydoc_data/topics.py", "code_filter:generated") == "code_filter:generated"
    assert all(r.startswith("code_filter:") for r in dropped.values())


def test_planted_minified_generated_and_encoded_files_are_dropped(stdlib, stdlib_dir):
    stage = CodeFilterStage()
    sources = [p for p, t in stdlib.items() if not p.startswith("test/") and 3000 < len(t) < 60000][:30]
    header = (
        "\n".join(stdlib["pydoc_data/topics.py"].splitlines()[:3]) + "\n"
        if "pydoc_data/topics.py" in stdlib
        else "".join(stdlib[p].splitlines(True)[0] for p in ("token.py",) if p in stdlib)
    )
    assert "generated" in header.lower()
    blob_file = next(
        f
        for f in sorted(stdlib_dir.rglob("*"))
        if f.suffix in (".wav", ".zip", ".png", ".gif") and f.stat().st_size > 3000 and "site-packages" not in f.parts
    )
    blob = base64.encodebytes(blob_file.read_bytes()[:6000]).decode()
    planted = {}
    for p in sources:
        text = stdlib[p]
        planted[f"min/{p}"] = " ".join(line.strip() for line in text.splitlines() if line.strip())  # one line
        planted[f"gen/{p}"] = header + text
        planted[f"enc/{p}"] = text + f'\nDATA = """\n{blob}"""\n'
    decisions = run(stage, planted)
    for p, r in decisions.items():
        want = {
            "min": {"code_filter:max_line_length", "code_filter:mean_line_length"},
            "gen": {"code_filter:generated"},
            "enc": {"code_filter:encoded_data"},
        }[p[:3]]
        assert r in want, (p, r)
    assert set(run(stage, {p: stdlib[p] for p in sources}).values()) == {None}  # the originals stay


def test_lf_crlf_and_cr_only_files_are_measured_alike(stdlib):
    stage = CodeFilterStage()
    sample = dict(list(stdlib.items())[::9])
    lf = run(stage, sample)
    for newline in ("\r\n", "\r"):
        other = run(stage, {p: t.replace("\n", newline) for p, t in sample.items()})
        assert other == lf, [(p, lf[p], other[p]) for p in sample if lf[p] != other[p]][:5]
    assert sum(r is None for r in lf.values()) / len(lf) >= 0.95


def test_data_files_by_size_and_per_language_overrides(stdlib_dir, corpus, tmp_path):
    data = {
        str(f.relative_to(stdlib_dir)): f.read_text(encoding="utf-8")
        for f in sorted(stdlib_dir.glob("test/test_tomllib/data/valid/**/*.json"))
    }
    if not data:
        pytest.skip("this Python has no test/test_tomllib data")
    decisions = run(CodeFilterStage(), data, lang="json")
    for p, text in data.items():
        assert decisions[p] == (None if 50 <= len(text) <= 5000 else "code_filter:size"), p
    records = [json.loads(t) for t in data.values()]
    merged = json.dumps(records * (6000 // len(json.dumps(records)) + 1), indent=2)  # one big real data file
    assert len(merged) > 5000 and check(merged, "json", CodeFilterStage().thresholds("json")) == "size"
    module = next(iter(modules(stdlib_dir).values()))
    long_line = module.replace("\n", " ", 60)
    strict = CodeFilterStage(CodeFilterStage.Config(languages={"python": {"max_line_length": 80}}))
    assert check(long_line, "python", strict.thresholds("python")) == "max_line_length"
    raw = {
        "name": "c",
        "workers": 0,
        "sources": [{"name": "code", "kind": "code", "format": "code", "paths": [str(stdlib_dir / "json")]}],
        "stages": [{"code_filters": {"languages": {"python": {"max_line_lenght": 80}}}}],
    }
    with pytest.raises(
        RecipeError, match=r"stages\[0\]\.code_filters\.languages\.python: unknown key 'max_line_lenght'"
    ):
        Pipeline.from_dict(raw)
    raw["stages"] = [{"code_filters": {"defaults": {"min_alpha_fraction": 2}}}]
    with pytest.raises(
        RecipeError, match=r"stages\[0\]\.code_filters\.defaults\.min_alpha_fraction: 2.0 is out of range"
    ):
        Pipeline.from_dict(raw)
    raw["stages"] = [{"code_filters": {}}]
    s = Pipeline.from_dict(raw).run(out=tmp_path / "r", log=lambda m: None)["stages"][1]
    assert s["reconciles"] and s["in"] >= 5 and s["kept"] == s["in"]
