"""Standalone dedup of files (``python -m curate dedup``): exact then near dedup, in-process."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.dedup.exact import ExactDedupStage
from curate.dedup.minhash import MinHashDedupStage
from curate.schema import DOC_SCHEMA, doc_id, docs_table, drops_table, empty_docs, empty_drops
from curate.stage import FitContext

PART_ROWS = 20_000


def _jsonl_rows(path: str) -> tuple[list[dict], list[dict]]:
    import fsspec

    docs, bad = [], []
    with fsspec.open(path, "rt", encoding="utf-8", errors="surrogateescape", compression="infer") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError as e:
                bad.append({"url": f"{path}:{n}", "text": line[:1000], "reason": f"error:json:{type(e).__name__}"})
                continue
            if not isinstance(r, dict) or not isinstance(r.get("text"), str):
                bad.append({"url": f"{path}:{n}", "text": line[:1000], "reason": "error:no_text"})
                continue
            source = r["source"] if isinstance(r.get("source"), str) else "input"
            docs.append({"id": str(r["id"]) if r.get("id") is not None else doc_id(source, f"{path}:{n}", r["text"]),
                         "source": source, "kind": r["kind"] if isinstance(r.get("kind"), str) else "input",
                         "url": r.get("url") if isinstance(r.get("url"), str) else f"{path}:{n}",
                         "text": r["text"], "meta": {}})
    return docs, bad


def _parquet_table(path: str) -> pa.Table:
    t = pq.read_table(path)
    n = t.num_rows
    cols = {f.name: (t.column(f.name) if f.name in t.column_names else None) for f in DOC_SCHEMA}
    fill = {"source": "input", "kind": "input"}
    for name, default in fill.items():
        if cols[name] is None:
            cols[name] = pa.array([default] * n, pa.string())
    if cols["url"] is None:
        cols["url"] = pa.array([f"{path}:{i}" for i in range(n)], pa.string())
    if cols["id"] is None:
        texts = t.column("text").to_pylist()
        cols["id"] = pa.array([doc_id(s, u, x or "") for s, u, x in
                               zip(cols["source"].to_pylist(), cols["url"].to_pylist(), texts)], pa.string())
    if cols["meta"] is None:
        cols["meta"] = pa.array([[]] * n, DOC_SCHEMA.field("meta").type)
    return pa.table({k: v for k, v in cols.items()}).cast(DOC_SCHEMA)


def _run(stage: Any, parts: list[Path], work: Path, out_dir: Path) -> tuple[list[Path], pa.Table, dict]:
    ctx = FitContext(parts, work, seed=1, map_fn=lambda f, xs: [f(x) for x in xs])
    state = stage.fit(ctx)
    kept_parts, dropped = [], [empty_drops()]
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in parts:
        res = stage.apply(pq.read_table(p), state)
        kept_parts.append(out_dir / p.name)
        pq.write_table(res.kept, kept_parts[-1])
        dropped.append(res.dropped)
    return kept_parts, pa.concat_tables(dropped), state["summary"]


def dedup_files(inputs: list[str], output: str, threshold: float = 0.8, dropped: str | None = None,
                **config: Any) -> dict:
    """Exact + near dedup of JSONL (``{"id","text"}`` at least; ``source``/``kind``/``url`` optional) or
    Parquet inputs. Kept rows -> ``output`` (Parquet, DOC_SCHEMA); dropped and unreadable rows ->
    ``dropped`` (Parquet, DROP_SCHEMA) when given. ``config``: MinHashDedupStage keys."""
    near = MinHashDedupStage.from_dict(dict(config, threshold=threshold), "dedup")
    exact = ExactDedupStage.from_dict({"priority": near.config.priority}, "dedup_exact")
    with tempfile.TemporaryDirectory(prefix="curate-dedup-") as tmp:
        work = Path(tmp)
        docs, bad = [], []
        tables = []
        for path in inputs:
            if path.endswith(".parquet"):
                tables.append(_parquet_table(path))
            else:
                d, b = _jsonl_rows(path)
                docs += d
                bad += b
        table = pa.concat_tables(tables + [docs_table(docs)]) if tables or docs else empty_docs()
        parts = []
        for i, s in enumerate(range(0, max(1, table.num_rows), PART_ROWS)):
            parts.append(work / "in" / f"part-{i:05d}.parquet")
            parts[-1].parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.slice(s, PART_ROWS), parts[-1])
        parts1, drop1, sum1 = _run(exact, parts, work / "exact", work / "after_exact")
        parts2, drop2, sum2 = _run(near, parts1, work / "near", work / "after_near")
        kept = pa.concat_tables([pq.read_table(p) for p in parts2])
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(kept, output)
        errors = drops_table(bad, stage="read")
        if dropped:
            Path(dropped).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.concat_tables([drop1, drop2, errors]), dropped)
    counts = {"input": table.num_rows + len(bad), "kept": kept.num_rows, "dropped_exact": drop1.num_rows,
              "dropped_near": drop2.num_rows, "errors": len(bad), "exact": sum1, "near": sum2}
    assert counts["input"] == counts["kept"] + counts["dropped_exact"] + counts["dropped_near"] + counts["errors"]
    return counts
