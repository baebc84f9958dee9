"""Read documents for the standalone CLIs: Parquet (DOC_SCHEMA or a superset) or JSONL files."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from curate.schema import DOC_SCHEMA, doc_id, docs_table


def _jsonl_rows(path: Path, source: str) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            if not line.strip():
                continue
            r = json.loads(line)
            text = r.get("text") or ""
            src = r.get("source") if isinstance(r.get("source"), str) else source
            yield {"id": r.get("id") or doc_id(src, f"{path}:{n}", text), "source": src,
                   "kind": r.get("kind") if isinstance(r.get("kind"), str) else src,
                   "url": r.get("url") or f"{path}#L{n + 1}", "text": text,
                   "meta": r.get("meta") if isinstance(r.get("meta"), dict) else None}


def read_docs(path: str | Path, batch_rows: int = 4096) -> Iterator[pa.Table]:
    """Yield DOC_SCHEMA batches from one Parquet or JSONL file. JSONL rows without ``source`` get the
    file's stem as source; rows without ``id`` get ``schema.doc_id(source, path:line, text)``."""
    path = Path(path)
    if path.suffix == ".parquet":
        pf = pq.ParquetFile(path)
        for rb in pf.iter_batches(batch_size=batch_rows, columns=[f.name for f in DOC_SCHEMA]):
            yield pa.Table.from_batches([rb]).cast(DOC_SCHEMA)
        return
    rows: list[dict] = []
    for r in _jsonl_rows(path, path.stem.split(".")[0]):
        rows.append(r)
        if len(rows) >= batch_rows:
            yield docs_table(rows)
            rows = []
    if rows:
        yield docs_table(rows)
