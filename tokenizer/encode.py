"""Encode one Parquet part into a token file plus a per-document table (runs as one Ray task).

Outputs in ``out_dir``: ``<name>.tok`` (raw: all documents' tokens concatenated, no EOD, in the shard
dtype) and ``<name>.index.parquet`` (one row per document instance, sorted by shuffle key: id, source, url,
repeat index, chars, n_tokens, offset into the token file; see ``curate.shards.writer``). Every document's
tokens are decoded again and compared with its text; those that differ are counted (``not_lossless``).
Memory: one batch of text and its tokens at a time, plus the part's compact instance index (no text).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from curate.batches import BATCH_ROWS, read_batches
from curate.schema import meta_dicts
from curate.shards.writer import instance_rows, part_summary, write_index

LOSSY_EXAMPLES = 5  # ids kept per part of documents that do not round-trip


@lru_cache(maxsize=4)
def load_model(path: str) -> Any:
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=path)


def encode_texts(sp: Any, texts: list[str], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Tokens of ``texts`` concatenated, per-text lengths, and the positions of the texts whose tokens do not
    decode back to them (one thread: parallelism is across tasks). Decoding costs about a fifth of encoding;
    it is what makes "the shards hold the text" a checked fact: sentencepiece decodes its whitespace symbol
    U+2581 in a text as a space, and a reused model may normalise (NFKC), so such texts are counted."""
    ids = sp.encode(texts, num_threads=1)
    lengths = np.fromiter((len(x) for x in ids), np.int64, len(ids))
    flat = np.fromiter(chain.from_iterable(ids), dtype, int(lengths.sum()))  # C-level flattening: 2x a genexpr
    lossy = [i for i, (back, text) in enumerate(zip(sp.decode(ids, num_threads=1), texts)) if back != text]
    return flat, lengths, lossy


def part_name(path: Path) -> str:
    return "enc-" + hashlib.blake2b(str(Path(path).resolve()).encode(), digest_size=8).hexdigest()


def _repeats(t: pa.Table) -> pa.Array:
    return pa.array([int(m.get("repeat", 1)) for m in meta_dicts(t)], pa.int32())


def encode_part(
    path: Path,
    model: str,
    out_dir: str,
    dtype: str,
    seed: int = 0,
    val_fraction: float = 0.0,
    batch_rows: int = BATCH_ROWS,
) -> dict[str, Any]:
    """Encode part ``path`` batch by batch into ``<name>.tok`` and its instance index ``<name>.index.parquet``
    (see ``curate.shards.writer``); returns the name and the part's counts."""
    sp = load_model(model)
    out = Path(out_dir)
    name = part_name(path)
    index: list[pa.Table] = []
    offset = 0
    lossy: list[str] = []  # ids of the documents whose tokens decode to another text
    n_lossy = 0
    with open(out / f"{name}.tok", "wb") as f:
        for rb in read_batches(path, ["id", "source", "url", "text", "meta"], batch_rows=batch_rows):
            texts = [t or "" for t in rb.column("text").to_pylist()]
            flat, lengths, changed = encode_texts(sp, texts, np.dtype(dtype))
            n_lossy += len(changed)
            lossy += [rb.column("id")[i].as_py() for i in changed[: max(0, LOSSY_EXAMPLES - len(lossy))]]
            f.write(flat.tobytes())
            starts = offset + np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
            docs = pa.table(
                {
                    "id": rb.column("id"),
                    "source": rb.column("source"),
                    "url": rb.column("url"),
                    "repeat": _repeats(rb),
                    "chars": pa.array([len(t) for t in texts], pa.int64()),
                    "n_tokens": pa.array(lengths, pa.int64()),
                    "offset": pa.array(starts, pa.int64()),
                }
            )
            index.append(instance_rows(docs, seed))
            offset += int(lengths.sum())
    written = write_index(index, out / f"{name}.index.parquet")
    return {
        "name": name,
        "tokens": offset,
        "not_lossless": n_lossy,
        "not_lossless_examples": lossy,
        **part_summary(written, val_fraction),
    }
