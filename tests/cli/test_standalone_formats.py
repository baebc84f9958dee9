"""The standalone commands share one I/O layer: the same documents given as .jsonl, .jsonl.gz, .jsonl.zst and
.parquet, and written to each of those, give the same kept and dropped documents (and the same tokenizer
and shards); formats come from extensions, unsupported ones are named; stdout is only the JSON result."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard

from curate.docfiles import dropped_path, export_run
from curate.schema import docs_table
from curate.standalone import dedup_files, extract_file, mix_files, run_filters, tokenize_files, train_tokenizer
from tests import REPO
from tests.support.docs import corpus_docs

FORMATS = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet")


def write_input(rows: list[dict], path: Path) -> Path:
    """Written independently of curate's writer: JSONL rows with ``meta`` as an object."""
    if path.suffix == ".parquet":
        pq.write_table(docs_table(rows), path)
        return path
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def read_output(path: Path) -> list[dict]:
    """Documents of an output file, meta as a dict, in file order."""
    if path.name.endswith(".parquet"):
        rows = pq.read_table(path).to_pylist()
        return [{**r, "meta": json.loads(r["meta"])} for r in rows]
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdDecompressor().stream_reader(data).read()
    return [json.loads(line) for line in data.decode().splitlines()]


@pytest.fixture(scope="module")
def docs(corpus: Path) -> list[dict]:
    return corpus_docs(corpus)[:120]  # web, wiki and books, some planted near-copies


@pytest.fixture(scope="module")
def pages(corpus: Path) -> list[dict]:
    """Raw HTML pages with their URLs, as rows for ``extract``."""
    rows = []
    for line in (corpus / "web" / "pages.jsonl").read_text(encoding="utf-8").splitlines()[:6]:
        p = json.loads(line)
        html = (corpus / "web" / "html" / p["file"]).read_bytes().decode(p.get("charset") or "utf-8", "replace")
        rows.append({"id": p["sha1"], "source": "web", "kind": "web", "url": p["url"], "text": html, "meta": {}})
    return rows


COMMANDS = {
    "extract": lambda inp, out: extract_file(str(inp), str(out)),
    "filter": lambda inp, out: run_filters(inp, out),
    "dedup": lambda inp, out: dedup_files([str(inp)], str(out), threshold=0.7),
    "mix": lambda inp, out: mix_files(
        [str(inp)], str(out), {"web": 0.5, "wiki": 0.2, "books": 0.3}, target_tokens=30_000, seed=1
    ),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_same_documents_whatever_the_formats(command: str, docs, pages, tmp_path: Path) -> None:
    rows = pages if command == "extract" else docs
    results = []
    for i, fin in enumerate(FORMATS):  # each input format once, each output format once
        out = tmp_path / f"out{i}{FORMATS[(i + 1) % len(FORMATS)]}"
        res = COMMANDS[command](write_input(rows, tmp_path / f"in{fin}"), out)
        kept, dropped = read_output(out), read_output(dropped_path(out))
        assert res["input"] == len(rows) and res["kept"] == len(kept) and res["reconciles"]
        assert len(dropped) == sum(res["dropped"].values()) + sum(res["errors"].values())
        assert all(r["reason"] and r["stage"] for r in dropped)
        results.append((kept, [(r["id"], r["reason"], r["stage"]) for r in dropped]))
    assert results[0][0] and (results[0][1] or command == "extract")  # something kept, something dropped
    assert all(r == results[0] for r in results[1:])
    run_dir = Path(f"{out}.curate")  # the last run's parts, exported to every output format
    for fout in FORMATS:
        export_run(run_dir, tmp_path / f"again{fout}", tmp_path / f"again.dropped{fout}")
        assert read_output(tmp_path / f"again{fout}") == results[0][0]


def test_tokenizer_and_shards_whatever_the_input_format(docs, tmp_path: Path) -> None:
    models, shards = set(), set()
    for fin in FORMATS:
        inp = write_input(docs, tmp_path / f"in{fin}")
        model = train_tokenizer([str(inp)], str(tmp_path / f"tok{fin}"), vocab_size=600, seed=1)
        models.add(Path(model).read_bytes())
        res = tokenize_files([str(inp)], str(tmp_path / f"sh{fin}"), model, shard_tokens=50_000, seed=1)
        assert res["input"] == len(docs) and res["encoded_docs"] == len(docs)
        run = tmp_path / f"sh{fin}"
        shards.add(
            tuple(
                hashlib.sha256(f.read_bytes()).hexdigest()
                for f in sorted((run / "shards").glob("*.*"))
                if f.suffix in (".bin", ".idx")
            )
        )
    assert len(models) == 1 and len(shards) == 1


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "curate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )


def test_cli_globs_several_inputs_json_only_on_stdout_and_resume(docs, tmp_path: Path) -> None:
    write_input(docs[:60], tmp_path / "a.jsonl.gz")
    write_input(docs[60:], tmp_path / "b.parquet")
    p = _cli(
        "dedup",
        "--input",
        "a.*",
        "b.parquet",
        "*.parquet",
        "--output",
        "out.jsonl.zst",
        "--threshold",
        "0.7",
        cwd=tmp_path,
    )  # b.parquet named twice: read once
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)  # nothing but the result on stdout; the runner's log lines went to stderr
    assert res["input"] == len(docs) and "[00_read]" in p.stderr and res["dropped_path"] == "out.dropped.jsonl.zst"
    ids = [r["id"] for r in read_output(tmp_path / "out.jsonl.zst")]
    again = _cli("dedup", "--input", "*", "--output", "out.jsonl.zst", "--threshold", "0.7", cwd=tmp_path)
    assert json.loads(again.stdout)["kept"] == res["kept"] and "reused" in again.stderr  # resumed
    assert "skipping" in again.stderr and "out.dropped.jsonl.zst, an output" in again.stderr  # not read back
    assert [r["id"] for r in read_output(tmp_path / "out.jsonl.zst")] == ids


@pytest.mark.parametrize("output", ["out.txt", "out.json", "out.parquet.gz"])
def test_unsupported_output_extension_is_a_one_line_error(docs, tmp_path: Path, output: str) -> None:
    write_input(docs[:5], tmp_path / "a.jsonl")
    p = _cli("filter", "--input", "a.jsonl", "--output", output, cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stdout == ""
    assert "supported: .jsonl, .jsonl.gz, .jsonl.zst" in p.stderr and ".parquet" in p.stderr
    assert not list(tmp_path.glob("out*"))  # nothing written, nothing run


@pytest.mark.parametrize(
    "args",
    [
        ("dedup", "--input", "a.jsonl", "--output", "/proc/curate-test/out.parquet"),
        ("run", "quickstart", "--out", "/proc/curate-test/out.parquet"),
    ],
)
def test_unwritable_output_fails_before_any_work(docs, tmp_path: Path, args: tuple[str, ...]) -> None:
    write_input(docs[:5], tmp_path / "a.jsonl")
    p = subprocess.run(
        [sys.executable, "-m", "curate", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "CURATE_INPUT": "a.jsonl"},
        timeout=300,
    )
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "cannot write to /proc/curate-test/out.parquet" in p.stderr
    assert "[00_read]" not in p.stderr  # checked before the run


def test_bad_records_are_counted_and_outputs_stay_utf8(docs, tmp_path: Path) -> None:
    good = docs[:3]
    lines = [json.dumps(r) for r in good] + [
        json.dumps({"id": "s1", "text": "lone \ud800 surrogate"}),  # cannot be stored as UTF-8 text
        json.dumps({**good[0], "id": "s2", "meta": {"note": "\udc00", "n": 3}}),  # kept, the meta value escaped
        "[1, 2]",
        "{truncated",
        json.dumps({"id": "e", "text": ""}),
        json.dumps({"id": "n", "text": 7}),
        '{"id": "deep", "text": "x", "meta": ' + '{"a": ' * 5000 + "1" + "}" * 5001,  # deeper than the stack
        '{"id": "deep2", "text": "x", "meta": ' + '{"a": ' * 950 + "1" + "}" * 951,
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = dedup_files([str(tmp_path / "in.jsonl")], str(tmp_path / "out.jsonl.gz"), threshold=0.7)
    assert res["input"] == len(lines) and res["reconciles"]
    deep = res["errors"].pop("jsonl:too_deep", 0) + res["errors"].pop("tabular:meta_too_deep", 0)
    assert deep == 2  # by the JSON parser or the meta encoder, whichever reaches the stack's end first
    assert res["errors"] == {"jsonl:malformed": 1, "jsonl:not_object": 1, "tabular:lone_surrogate": 1}
    assert res["dropped"] == {"dedup:exact": 1, "tabular:empty_text": 1, "tabular:non_string_text": 1}
    out = gzip.decompress((tmp_path / "out.jsonl.gz").read_bytes()).decode("utf-8")  # strict UTF-8
    dropped = gzip.decompress((tmp_path / "out.dropped.jsonl.gz").read_bytes()).decode("utf-8")
    rows = [json.loads(x) for x in (out + dropped).splitlines()]
    s2 = next(r for r in rows if r["meta"].get("source_id") == "s2")  # the input's id, kept in meta
    assert s2["meta"]["note"] == "\udc00" and s2["meta"]["n"] == 3
    # s2 and the document it copies: one is kept, the other dropped as its exact duplicate (which one is a
    # matter of their run ids)
    copy = [json.loads(x) for x in dropped.splitlines() if json.loads(x).get("reason") == "dedup:exact"]
    assert len(copy) == 1 and copy[0]["text"] == s2["text"] and copy[0]["meta"]["dup_sim"] == 1.0
    assert len(rows) == len(lines)
