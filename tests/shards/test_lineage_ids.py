"""Input files that reuse document ids (``id`` 0, 1, 2 ... in every file) keep lineage and trace
right. Every lineage row of the shards names the document whose tokens it covers (decoded from the shard and
compared with the input line it names), ``curate trace`` returns that line's text, the input's id stays in
``meta.source_id``, and source names come from the recipe, not from file names. Inputs: real documents
of the corpus' dedup set, 3 files of 15, each numbered from 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import sentencepiece as spm

from curate.pipeline import Pipeline
from curate.schema import decode_meta
from curate.shards.megatron import IndexedReader
from curate.trace import trace
from tests import REPO


def _inputs(corpus: Path, folder: Path) -> dict[str, dict]:
    """3 JSONL files of 15 real documents, ids 0..14 in each; returns ``path#line`` -> record."""
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(x)["text"] for x in lines[:45]]
    records = {}
    folder.mkdir()
    for f in range(3):
        path = folder / f"part-{f}.jsonl"
        recs = [{"id": i, "text": texts[f * 15 + i]} for i in range(15)]
        path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
        records.update({f"{path}#{i + 1}": r for i, r in enumerate(recs)})
    return records


def test_repeated_ids_across_files_keep_lineage_and_trace_right(corpus: Path, tmp_path: Path) -> None:
    records = _inputs(corpus, tmp_path / "in")
    logs: list[str] = []
    recipe = {
        "name": "ids",
        "workers": 0,
        "sources": [
            {"name": "docs", "kind": "web", "format": "documents-jsonl", "paths": [str(tmp_path / "in" / "*.jsonl")]}
        ],
        "stages": [{"tokenize": {"vocab_size": 400, "shard_tokens": 20_000, "val_fraction": 0.2}}],
    }
    run = tmp_path / "run"
    summary = Pipeline.from_dict(recipe).run(out=run, workers=0, log=logs.append)
    assert summary["stages"][0]["kept"] == 45
    assert summary["stages"][0]["sources_without_documents"] == [] and not any("yielded no" in m for m in logs)
    assert list(summary["stages"][0]["by_source"]) == ["docs"]  # the recipe's name, not part-0 .. part-2

    manifest = json.loads((run / "manifest.json").read_text())
    sp = spm.SentencePieceProcessor(model_file=str(run / manifest["tokenizer"]["path"]))
    checked, seen_urls = 0, set()
    for split, entries in manifest["splits"].items():
        for e in entries:
            lineage = pq.read_table(run / manifest["lineage"] / f"{e['name']}.parquet").to_pylist()
            reader = IndexedReader(run / e["prefix"])
            starts = [0]
            for row in lineage:
                starts.append(starts[-1] + row["n_tokens"])
            for row, start in zip(lineage, starts):
                rec = records[row["url"]]  # the input line this row names
                tokens = reader.tokens[start : start + row["n_tokens"] - 1].tolist()  # without the end-of-document
                assert sp.decode(tokens) == rec["text"], row
                assert row["source"] == "docs"
                t = trace(run, e["name"], start)
                assert t["text"] == rec["text"] and t["id"] == row["id"] and t["url"] == row["url"]
                seen_urls.add(row["url"])
                checked += 1
    assert checked == 45 and seen_urls == set(records)  # every document, each once

    docs = pq.read_table(sorted((run / "stages").iterdir())[0]).to_pylist()  # what tokenize read
    assert len({d["id"] for d in docs}) == 45  # one key per document, whatever the input ids
    assert sorted(decode_meta(d["meta"])["source_id"] for d in docs) == sorted([str(i) for i in range(15)] * 3)

    cli = subprocess.run(
        [sys.executable, "-m", "curate", "trace", str(run), "--shard", "0", "--token", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    first = pq.read_table(run / manifest["lineage"] / f"{manifest['splits']['train'][0]['name']}.parquet").to_pylist()[
        0
    ]
    assert records[first["url"]]["text"][:200] in cli.stdout and f"id: {first['id']}" in cli.stdout
