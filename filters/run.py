"""``python -m curate filter``: apply a recipe's filter stages to one JSONL or Parquet file in-process.

Reads documents (DOC_SCHEMA Parquet, or JSONL with ``text`` and optional ``id``/``source``/``kind``/
``url``/``meta``), runs the recipe's ``langid``, ``clean_lines``, ``heuristics`` and ``quality`` stages in
recipe order (honouring ``only:``; other stages are skipped), writes kept rows to ``output`` and
dropped/errored rows with ``reason`` and ``stage`` to ``dropped_path``, and returns the counts.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.schema import DOC_SCHEMA, docs_table, doc_id, drops_table, split_by_source
from curate.stage import FitContext

FILTER_STAGES = ("langid", "heuristics", "clean_lines", "quality")
DEFAULT_STAGES: list[tuple[str, dict, list[str] | None]] = [("langid", {}, None), ("clean_lines", {}, None),
                                                             ("heuristics", {}, None)]
BATCH_ROWS = 1000


def read_docs(path: Path) -> tuple[pa.Table, pa.Table]:
    """Documents of a .parquet or .jsonl file, and the lines that could not be read (as drop rows)."""
    if path.suffix == ".parquet":
        t = pq.read_table(path)
        return t.select([f.name for f in DOC_SCHEMA]).cast(DOC_SCHEMA), drops_table([])
    rows, bad = [], []
    with path.open(encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                text = r["text"]
                if not isinstance(text, str):
                    raise TypeError("text is not a string")
            except (ValueError, KeyError, TypeError) as e:
                bad.append({"id": "", "source": path.name, "kind": "", "url": f"{path}:{n}",
                            "text": line[:1000], "reason": f"error:{type(e).__name__}", "stage": "read"})
                continue
            source, url = str(r.get("source") or path.stem), r.get("url")
            rows.append({"id": str(r.get("id") or doc_id(source, url or f"{path.name}:{n}", text)),
                         "source": source, "kind": str(r.get("kind") or "web"), "url": url, "text": text,
                         "meta": r.get("meta") if isinstance(r.get("meta"), dict) else None})
    return docs_table(rows), drops_table(bad)


def write_docs(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pq.write_table(table, path, compression="zstd")
        return
    with path.open("w", encoding="utf-8") as f:
        for r in table.to_pylist():
            r["meta"] = dict(r["meta"] or [])
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _serial_map(fn: Any, items: list) -> list:
    return [fn(x) for x in items]


def _stage_specs(recipe_path: str | Path | None) -> tuple[list[tuple[str, dict, list[str] | None]], int]:
    if recipe_path is None:
        return DEFAULT_STAGES, 0
    from curate.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    return [(s.stage, s.config, s.only) for s in recipe.stages if s.stage in FILTER_STAGES], recipe.seed


def run_filters(input_path: str | Path, output_path: str | Path, recipe_path: str | Path | None = None,
                dropped_path: str | Path | None = None) -> dict:
    """Filter one file with the recipe's filter stages (default: langid, clean_lines, heuristics)."""
    from curate.registry import stage_class

    input_path, output_path = Path(input_path), Path(output_path)
    dropped_path = Path(dropped_path) if dropped_path else output_path.with_name(
        output_path.stem + ".dropped" + output_path.suffix)
    workdir = output_path.with_name(output_path.stem + ".work")
    specs, seed = _stage_specs(recipe_path)
    docs, bad = read_docs(input_path)
    n_in = docs.num_rows + bad.num_rows
    removed: list[pa.Table] = [bad]
    report: dict[str, Any] = {"input": n_in, "read_errors": bad.num_rows, "stages": []}
    for i, (name, cfg, only) in enumerate(specs, 1):
        stage = stage_class(name).from_dict(cfg)
        if only:
            target, passthrough = split_by_source(docs, only)
        else:
            target, passthrough = docs, docs.slice(0, 0)
        state = None
        stats: dict[str, Any] = {"stage": name, "in": target.num_rows}
        if type(stage).fit is not type(stage).__mro__[1].fit:
            sdir = workdir / f"{i:02d}_{name}"
            sdir.mkdir(parents=True, exist_ok=True)
            part = sdir / "input.parquet"
            pq.write_table(docs, part)  # fit sees every row, like the runner (reference sources too)
            state = stage.fit(FitContext([part], sdir, seed, _serial_map, run_dir=workdir))
            if isinstance(state, dict) and "summary" in state:
                stats["summary"] = state["summary"]
        kept, counters = [passthrough], Counter()
        for b in target.to_batches(max_chunksize=BATCH_ROWS) if target.num_rows else []:
            res = stage.apply(pa.Table.from_batches([b], schema=target.schema), state)
            kept.append(res.kept)
            removed += [res.dropped, res.errors]
            counters.update(res.counters)
        docs = pa.concat_tables([k.cast(DOC_SCHEMA) for k in kept])
        stats.update(kept=docs.num_rows - passthrough.num_rows, counters=dict(counters))
        report["stages"].append(stats)
    dropped = pa.concat_tables([r.cast(removed[0].schema) for r in removed])
    write_docs(docs, output_path)
    write_docs(dropped, dropped_path)
    reasons = Counter(dropped["reason"].to_pylist())
    report.update(kept=docs.num_rows, dropped=dict(sorted(reasons.items())), output=str(output_path),
                  dropped_path=str(dropped_path))
    assert docs.num_rows + dropped.num_rows == n_in, "filter accounting mismatch"
    return report
