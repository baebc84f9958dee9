"""Encode one Parquet part into a token file plus a per-document table (runs as one Ray task).

Outputs in ``out_dir``: ``<name>.tok`` (raw: all documents' tokens concatenated, no EOD, in the shard
dtype) and ``<name>.docs.parquet`` (id, source, url, repeat, chars, n_tokens, offset into the token file).
Memory: one Parquet row group of text and its tokens at a time.
"""
from __future__ import annotations

import hashlib
from itertools import chain
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.schema import meta_dicts

DOCS_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("url", pa.string()),
                         ("repeat", pa.int32()), ("chars", pa.int64()), ("n_tokens", pa.int64()),
                         ("offset", pa.int64())])


@lru_cache(maxsize=4)
def load_model(path: str) -> Any:
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=path)


def encode_texts(sp: Any, texts: list[str], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Tokens of ``texts`` concatenated, and per-text lengths (one thread: parallelism is across tasks)."""
    ids = sp.encode(texts, num_threads=1)
    lengths = np.fromiter((len(x) for x in ids), np.int64, len(ids))
    flat = np.fromiter(chain.from_iterable(ids), dtype, int(lengths.sum()))  # C-level flattening: 2x a genexpr
    return flat, lengths


def part_name(path: Path) -> str:
    return "enc-" + hashlib.blake2b(str(Path(path).resolve()).encode(), digest_size=8).hexdigest()


def encode_part(path: Path, model: str, out_dir: str, dtype: str, batch_rows: int = 1024) -> dict[str, Any]:
    """Encode part ``path``; returns file names and per-source counts (docs, chars, tokens)."""
    sp = load_model(model)
    out = Path(out_dir)
    name = part_name(path)
    tok_path = out / f"{name}.tok"
    rows: dict[str, list] = {f.name: [] for f in DOCS_SCHEMA}
    offset = 0
    with open(tok_path, "wb") as f:
        for rb in pq.ParquetFile(path).iter_batches(batch_size=batch_rows,
                                                    columns=["id", "source", "url", "text", "meta"]):
            texts = [t or "" for t in rb.column("text").to_pylist()]
            flat, lengths = encode_texts(sp, texts, np.dtype(dtype))
            f.write(flat.tobytes())
            rows["id"] += rb.column("id").to_pylist()
            rows["source"] += rb.column("source").to_pylist()
            rows["url"] += rb.column("url").to_pylist()
            rows["repeat"] += [int(m.get("repeat", 1)) for m in meta_dicts(pa.Table.from_batches([rb]))]
            rows["chars"] += [len(t) for t in texts]
            rows["n_tokens"] += lengths.tolist()
            rows["offset"] += (offset + np.concatenate([[0], np.cumsum(lengths)[:-1]])).tolist() if len(lengths) else []
            offset += int(lengths.sum())
    pq.write_table(pa.table(rows, schema=DOCS_SCHEMA), out / f"{name}.docs.parquet")
    return {"name": name, "docs": len(rows["id"]), "tokens": offset}
