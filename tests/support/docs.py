"""Real documents for the mix/tokenizer/shard/trainer tests: the corpus' dedup set with its provenance.

Each document's source is the corpus it came from (web, wiki, books; planted copies take their
original's), its url the page URL (web) or file reference, read from ``dedup/sources.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from curate.schema import doc_id, docs_table


def corpus_docs(corpus: Path) -> list[dict]:
    d = corpus / "dedup"
    prov = {r["id"]: r["source"] for r in map(json.loads, (d / "sources.jsonl").read_text().splitlines())}
    rows = []
    for line in (d / "docs.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        src = prov[r["id"]]
        orig = prov[src["planted_from"]] if "planted_from" in src else src
        if "url" in src:
            url = src["url"]
        elif "planted_from" in src:
            url = f"dedup/docs.jsonl#{r['id']}"
        else:
            url = f"{orig['corpus']}/{src['file']}#{src.get('title') or src.get('paragraphs')}"
        rows.append(
            {
                "id": doc_id(orig["corpus"], url, r["text"]),
                "source": orig["corpus"],
                "kind": orig["corpus"],
                "url": url,
                "text": r["text"],
                "meta": {"dedup_id": r["id"]},
            }
        )
    return rows


def write_parts(rows: list[dict], n_parts: int, out_dir: Path, repeats: dict[str, int] | None = None) -> list[Path]:
    """Split ``rows`` into ``n_parts`` contiguous Parquet parts (meta ``repeat`` from ``repeats``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    size = -(-len(rows) // n_parts)
    for i in range(n_parts):
        chunk = [
            {**r, "meta": {**r["meta"], "repeat": (repeats or {}).get(r["id"], 1)}}
            for r in rows[i * size : (i + 1) * size]
        ]
        p = out_dir / f"part-{i:05d}.parquet"
        pq.write_table(docs_table(chunk), p)
        paths.append(p)
    return paths


def serial(fn, items):
    return [fn(x) for x in items]


def build_run(parts: list[Path], run_dir: Path, seed: int = 0, map_fn=serial, **config) -> dict:
    """Run the tokenize stage the way the engine does: fit, apply per part, finalize over the outputs."""
    from curate.stage import FitContext
    from curate.tokenizer.stage import TokenizeStage

    stage = TokenizeStage.from_dict(
        {"vocab_size": 1000, "sample_chars": 400_000, "shard_tokens": 60_000, "val_fraction": 0.05, **config}
    )
    work = run_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    state = stage.fit(FitContext(parts, work, seed, map_fn, run_dir=run_dir, log=lambda s: None))
    outs = []
    for i, p in enumerate(parts):
        res = stage.apply(pq.read_table(p), state)
        assert res.kept.num_rows + res.dropped.num_rows == pq.read_metadata(p).num_rows
        out = run_dir / "stages" / "01_tokenize" / f"part-{i:05d}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(res.kept, out)
        outs.append(out)
    return stage.finalize(FitContext(outs, work, seed, map_fn, run_dir=run_dir, log=lambda s: None), state)
