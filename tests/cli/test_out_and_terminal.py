"""The user's files and what a run shows: ``--out`` belongs to curate only when curate made it (a
non-empty folder without its marker is refused in one line, ``--adopt-out`` adopts it, and curate removes only
what it wrote); every value printed to a terminal has its control characters escaped; trace and the report
refuse a hand-edited manifest or summary that points outside the run. Inputs: real books and the dedup set's
documents, damaged with terminal control sequences.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from curate import cli
from curate.io import OutsideRun
from curate.pipeline import Pipeline
from curate.report import write_report
from curate.runlock import MARKER, NotCurateOut
from curate.termsafe import terminal_safe
from curate.trace import TraceError, trace

HOSTILE = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e\x08"  # clear screen, set title + BEL, C1 CSI, RTL override, BS
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\x08")


def _books(corpus: Path, files: list[Path] | None = None) -> dict:
    return {
        "name": "books",
        "seed": 1,
        "workers": 0,
        "stages": [],
        "sources": [
            {
                "name": "books",
                "kind": "books",
                "format": "text",
                "paths": [str(p) for p in files or [corpus / "books" / "pg84.txt"]],
            }
        ],
    }


def _user_files(d: Path, corpus: Path) -> dict[str, bytes]:
    """A folder of the user's own: a book, notes, and files named like curate's outputs."""
    (d / "stages" / "keep_me").mkdir(parents=True)
    files = {
        "notes.txt": (corpus / "books" / "11-0.txt").read_bytes()[:5000],
        "summary.json": b'{"mine": true}\n',
        "stages/keep_me/part-00000.parquet": (corpus / "books" / "pg84.txt").read_bytes()[:3000],
    }
    for rel, data in files.items():
        (d / rel).write_bytes(data)
    return files


def test_a_folder_curate_did_not_make_is_refused_in_one_line(corpus: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    files = _user_files(out, corpus)
    with pytest.raises(NotCurateOut, match=f"not empty .* curate did not make it \\(no {MARKER} file\\).*--adopt-out"):
        Pipeline.from_dict(_books(corpus)).run(out=out, workers=0, log=lambda m: None)
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(_books(corpus)))
    assert cli.main(["run", str(recipe), "--out", str(out), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--adopt-out" in err[0]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(files)  # untouched


def test_an_adopted_folder_keeps_every_file_curate_did_not_write(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    files = _user_files(out, corpus)
    files.pop("summary.json")  # a run writes summary.json: adopting the folder says so
    s = Pipeline.from_dict(_books(corpus)).run(out=out, workers=0, log=lambda m: None, adopt_out=True)
    assert s["stages"][0]["kept"] == 1 and (out / MARKER).is_file()
    two = _books(corpus, [corpus / "books" / "pg84.txt", corpus / "books" / "11-0.txt"])
    two["stages"] = ["dedup_exact"]
    Pipeline.from_dict(two).run(out=out, workers=0, log=lambda m: None)  # a step removed and one added later
    Pipeline.from_dict(_books(corpus)).run(out=out, workers=0, log=lambda m: None)
    for rel, data in files.items():
        assert (out / rel).read_bytes() == data, rel


def test_a_new_or_empty_folder_or_an_older_run_is_curates(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "new", tmp_path / "empty"):
        Pipeline.from_dict(_books(corpus)).run(out=out, workers=0, log=lambda m: None)
        assert (out / MARKER).is_file()
    older = tmp_path / "older"
    shutil.copytree(tmp_path / "new", older)
    (older / MARKER).unlink()  # a run of a curate without the marker: only curate's names in it
    assert Pipeline.from_dict(_books(corpus)).run(out=older, workers=0, log=lambda m: None)["stages"][0]["reused"]


def test_terminal_safe_escapes_every_control_character() -> None:
    shown = terminal_safe("line one\n\tline two " + HOSTILE)
    assert not any(c in shown for c in RAW)
    assert shown.startswith("line one\n\tline two \\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202e\\x08")
    assert terminal_safe("a\nb\x00", lines=False) == "a\\x0ab\\x00"


@pytest.fixture(scope="module")
def hostile_run(corpus: Path, tmp_path_factory) -> Path:
    from curate.schema import docs_table
    from tests.support.docs import build_run, corpus_docs

    d = tmp_path_factory.mktemp("hostile")
    rows = [
        dict(r, text=f"{r['text'][:200]}{HOSTILE}{r['text'][200:]}", url=r["url"] + HOSTILE)
        for r in corpus_docs(corpus)[:30]
    ]
    (d / "in").mkdir()
    import pyarrow.parquet as pq

    pq.write_table(docs_table(rows), d / "in" / "part-00000.parquet")
    build_run([d / "in" / "part-00000.parquet"], d, seed=3, vocab_size=512, val_fraction=0.1)
    return d


def test_trace_shows_control_characters_escaped(hostile_run: Path, capsys) -> None:
    assert HOSTILE in trace(hostile_run, 0, 0)["text"]  # the data keeps them
    assert cli.main(["trace", str(hostile_run), "--shard", "0", "--token", "0"]) == 0
    shown = capsys.readouterr().out
    assert not any(c in shown for c in RAW)
    assert "\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202e\\x08" in shown and "url: " in shown


def test_trace_refuses_a_manifest_pointing_outside_its_run(hostile_run: Path, tmp_path: Path, capsys) -> None:
    other = tmp_path / "other"
    shutil.copytree(hostile_run, other)
    good = json.loads((other / "manifest.json").read_text())
    entry = good["splits"]["train"][0]
    for field, value in (
        ("prefix", str(hostile_run / entry["prefix"])),  # absolute: another run's shard
        ("prefix", f"../{hostile_run.name}/{entry['prefix']}"),  # relative, leading out
        ("lineage", str(hostile_run / good["lineage"])),
    ):
        m = json.loads(json.dumps(good))
        if field == "prefix":
            m["splits"]["train"][0]["prefix"] = value
        else:
            m["lineage"] = value
        (other / "manifest.json").write_text(json.dumps(m))
        with pytest.raises(TraceError, match="(not a relative path inside|leads outside) the run"):
            trace(other, 0, 0)
        assert cli.main(["trace", str(other), "--shard", "0", "--token", "0"]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_report_refuses_a_summary_pointing_outside_its_run(corpus: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        Pipeline.from_dict(_books(corpus)).run(out=tmp_path / name, workers=0, log=lambda m: None)
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    for bad in ("../../a/stages/00_read", str(tmp_path / "a" / "stages" / "00_read")):
        summary["stages"][0]["dir"] = bad
        (tmp_path / "b" / "summary.json").write_text(json.dumps(summary))
        if bad.startswith("/"):
            write_report(tmp_path / "b")  # an absolute dir is read under the run's own roots, never elsewhere
            continue
        with pytest.raises(OutsideRun, match="leads outside the run"):
            write_report(tmp_path / "b")


def test_logs_show_a_hostile_file_name_escaped(corpus: Path, tmp_path: Path, capsys) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    book = inputs / f"pg84{HOSTILE}.txt"
    book.write_bytes((corpus / "books" / "pg84.txt").read_bytes())
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(_books(corpus, [inputs / "*.txt"])))
    assert cli.main(["run", str(recipe), "--out", str(tmp_path / "run"), "--workers", "0"]) == 0
    book.write_bytes((corpus / "books" / "pg84.txt").read_bytes()[:-100])
    capsys.readouterr()
    assert cli.main(["run", str(recipe), "--out", str(tmp_path / "run"), "--workers", "0"]) == 0
    err = capsys.readouterr().err
    assert "input changed since the last run: " in err and "pg84\\x1b[2J" in err
    assert not any(c in err for c in RAW)
