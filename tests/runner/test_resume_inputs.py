"""Resume keys cover the content of what was read: a re-run after input files changed (records added,
a same-size rewrite with its mtime put back), were added or were removed recomputes the units they feed, names
them in the log, reuses the others, and writes what a fresh run writes. Inputs: paragraphs of a real book as
JSONL documents.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.pipeline import Pipeline


@pytest.fixture(autouse=True)
def one_file_per_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """One input file per read task (small files are otherwise packed into one), so that each test sees
    which units a re-run reuses and which it reads again."""
    monkeypatch.setattr("curate.runplan.MAX_UNITS_PER_TASK", 1)


def _paragraphs(corpus: Path) -> list[str]:
    text = (corpus / "books" / "2701-0.txt").read_text(encoding="utf-8").replace("\r\n", "\n")
    return [" ".join(p.split()) for p in text.split("\n\n") if len(p.split()) >= 20]


def _write(path: Path, paras: list[str]) -> None:
    path.write_text("".join(json.dumps({"text": p}) + "\n" for p in paras), encoding="utf-8")


def _recipe(inputs: Path) -> dict:
    return {
        "name": "resume",
        "seed": 3,
        "workers": 0,
        "sources": [{"name": "book", "kind": "books", "format": "jsonl", "paths": [str(inputs / "*.jsonl")]}],
        "stages": [{"heuristics": {}}, {"dedup_exact": {}}],
    }


def _inputs(tmp_path: Path, paras: list[str], names: str, per_file: int) -> Path:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k, name in enumerate(names):
        _write(inputs / f"{name}.jsonl", paras[k * per_file : (k + 1) * per_file])
    return inputs


def _run(inputs: Path, out: Path) -> tuple[dict, list[str]]:
    lines: list[str] = []
    summary = Pipeline.from_dict(_recipe(inputs)).run(out=out, workers=0, log=lines.append)
    return summary, lines


def _texts(out: Path) -> list[str]:
    stage = sorted((out / "stages").iterdir())[-1]
    return [t for f in sorted(stage.glob("part-*.parquet")) for t in pq.read_table(f).column("text").to_pylist()]


def _seen(out: Path) -> set[str]:
    """Every text the run kept or dropped, at any step."""
    return {
        t
        for root in ("stages", "dropped")
        for f in sorted((out / root).rglob("part-*.parquet"))
        for t in pq.read_table(f, columns=["text"]).column("text").to_pylist()
    }


def test_changed_added_and_removed_inputs_are_read_again(corpus: Path, tmp_path: Path) -> None:
    paras = _paragraphs(corpus)
    inputs = _inputs(tmp_path, paras, "abcd", 30)
    first, _ = _run(inputs, tmp_path / "run")
    assert first["stages"][0]["kept"] == 120

    # a: 25 records appended; b: a different paragraph of the same length in place of one, mtime put back;
    # c: removed; e: new (after every other name, so the parts of the unchanged files keep their numbers)
    _write(inputs / "a.jsonl", paras[0:30] + paras[200:225])
    b = inputs / "b.jsonl"
    st = b.stat()
    data = b.read_bytes()
    old = json.dumps({"text": paras[30]}).encode()
    same_len = next(
        p for p in paras[300:] if len(json.dumps({"text": p}).encode()) == len(old) and p not in paras[:120]
    )
    b.write_bytes(data.replace(old, json.dumps({"text": same_len}).encode(), 1))
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert b.stat().st_size == st.st_size and b.stat().st_mtime_ns == st.st_mtime_ns
    (inputs / "c.jsonl").unlink()
    _write(inputs / "e.jsonl", paras[400:410])

    again, log = _run(inputs, tmp_path / "run")
    fresh, _ = _run(inputs, tmp_path / "fresh")
    assert _texts(tmp_path / "run") == _texts(tmp_path / "fresh")
    assert again["stages"][0]["in"] == fresh["stages"][0]["in"] == 30 + 25 + 30 + 30 + 10
    assert same_len in _seen(tmp_path / "run") and paras[30] not in _seen(tmp_path / "run")
    said = "\n".join(log)
    for name, what in (("a", "changed"), ("b", "changed"), ("c", "removed"), ("e", "new")):
        assert f"input {what} since the last run: {inputs / name}.jsonl" in said
    assert "input changed since the last run: " + str(inputs / "d.jsonl") not in said
    # a and b changed, e is new; d now has the task number c had: its part is renumbered, not read again
    assert again["stages"][0]["resumed_parts"] == 1 and "[00_read] 1 parts renumbered" in said
    for f in (tmp_path / "run" / "_state" / "00_read" / "parts").glob("part-*.json"):
        assert json.loads(f.read_text())["input"]  # every part records the key of what it read


def test_an_unchanged_input_is_not_read_again(corpus: Path, tmp_path: Path) -> None:
    paras = _paragraphs(corpus)
    inputs = _inputs(tmp_path, paras, "ab", 20)
    _run(inputs, tmp_path / "run")
    _write(inputs / "b.jsonl", paras[20:40] + paras[500:505])  # records added to the last file
    again, log = _run(inputs, tmp_path / "run")
    read = again["stages"][0]
    assert read["in"] == 45 and read["resumed_parts"] == 1  # a reused, b read again
    assert not any("input changed since the last run: " + str(inputs / "a.jsonl") in line for line in log)
    assert again["stages"][-1]["resumed_parts"] == 0  # dedup's global pass sees the new records
    assert set(paras[500:505]) <= _seen(tmp_path / "run")

    _write(inputs / "0.jsonl", paras[600:610])  # first in path order: every other input gets a new number
    again, log = _run(inputs, tmp_path / "run")
    assert again["stages"][0]["resumed_parts"] == 2 and again["stages"][0]["in"] == 55
    fresh, _ = _run(inputs, tmp_path / "fresh")
    for root in ("stages", "dropped", "errors"):  # byte-identical to a run from scratch
        run_files = sorted((tmp_path / "run" / root).rglob("part-*.parquet"))
        assert [f.read_bytes() for f in run_files] == [
            f.read_bytes() for f in sorted((tmp_path / "fresh" / root).rglob("part-*.parquet"))
        ]
