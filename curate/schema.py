"""The document schema shared by every stage, and helpers to build and inspect batches.

A document is one row: ``id`` (stable: derived from source + location + content, the location naming its
file by its path below the source's root, so moving the inputs changes no id: ``curate.sources.idnames``),
``source`` (the recipe's source name), ``kind`` (web|wiki|books|code|...), ``url`` (URL or path), ``text``
and ``meta`` (provenance, scores and decisions). Dropped and errored rows carry the same columns plus
``reason`` (a short machine-readable code, e.g. ``lang:fr`` or ``dedup:exact``) and ``stage``.

``meta`` is a JSON object in a string column, values typed (numbers stay numbers). Every tool reads
it directly: HF ``datasets`` cannot load an Arrow ``map`` column (huggingface/datasets#5612), and a
struct would change its fields from stage to stage and source to source (a warc part and a wiki part
of one stage directory would have different schemas, which HF and polars refuse to read as one
dataset). DuckDB: ``avg((meta->>'quality_score')::DOUBLE)``; polars: ``pl.col("meta").str.json_decode()``.
Only this module encodes and decodes it (``meta_dicts``, ``set_meta``, ``docs_table``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_SURROGATE = re.compile("[\ud800-\udfff]")
META_TYPE = pa.string()  # a JSON object (see the module docstring)

DOC_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("text", pa.large_string()),
        pa.field("meta", META_TYPE),
    ]
)

DROP_SCHEMA = pa.schema(
    list(DOC_SCHEMA) + [pa.field("reason", pa.string(), nullable=False), pa.field("stage", pa.string())]
)


def doc_id(source: str, location: str, text: str | bytes) -> str:
    """Stable document id: a hash of source name, location (URL, path, byte offset...) and content."""
    h = hashlib.blake2b(digest_size=16)
    for part in (source, location):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    h.update(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def storable_utf8(v: Any) -> bool:
    """False for a string Arrow/Parquet cannot store as UTF-8 (a lone surrogate); True for anything else."""
    if not isinstance(v, str):
        return True
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_value(v: Any) -> Any:
    """A JSON-encodable form of one meta value: numpy scalars as numbers, NaN/inf as null, others as text."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if hasattr(v, "item") and not isinstance(v, (list, dict)):  # numpy scalar
        return _json_value(v.item())
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _json_value(x) for k, x in v.items()}
    return str(v)


def encode_meta(meta: Mapping[str, Any] | str | None) -> str:
    """One row's meta as a JSON object string (keys as inserted; lone surrogates escaped). A string is
    taken as already encoded. Raises RecursionError for nesting deeper than Python's stack."""
    if isinstance(meta, str):
        return meta
    obj = {str(k): _json_value(v) for k, v in (meta or {}).items()}
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot be stored as UTF-8: keep it as a \u escape
        text = escape_surrogates(text)
    return text


def escape_surrogates(json_text: str) -> str:
    """JSON text with each lone surrogate (not storable as UTF-8) written as its ``\\uXXXX`` escape."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def decode_meta(value: Any) -> dict[str, Any]:
    """One row's meta as a dict: from its JSON string, a mapping, or the key/value pairs of the Arrow map
    that older curate versions wrote (``{}`` for null or anything else)."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return {str(p[0]): p[1] for p in value if isinstance(p, (list, tuple)) and len(p) == 2}
    if not isinstance(value, str):
        return {}
    try:
        obj = json.loads(value)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def docs_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Build a DOC_SCHEMA table from dicts with keys id, source, kind, url, text, meta (a dict)."""
    cols: dict[str, list] = {f.name: [] for f in DOC_SCHEMA}
    for r in rows:
        for name in ("id", "source", "kind", "url", "text"):
            cols[name].append(r.get(name))
        cols["meta"].append(encode_meta(r.get("meta")))
    return pa.table(cols, schema=DOC_SCHEMA)


def drops_table(rows: Iterable[Mapping[str, Any]], stage: str | None = None) -> pa.Table:
    """Build a DROP_SCHEMA table from dicts like ``docs_table`` plus ``reason`` (and optional ``stage``)."""
    cols: dict[str, list] = {f.name: [] for f in DROP_SCHEMA}
    for r in rows:
        for name in ("id", "source", "kind", "url", "text", "reason"):
            cols[name].append(r.get(name) if name != "id" else (r.get("id") or ""))
        cols["source"][-1] = cols["source"][-1] or ""
        cols["kind"][-1] = cols["kind"][-1] or ""
        cols["meta"].append(encode_meta(r.get("meta")))
        cols["stage"].append(r.get("stage", stage))
    return pa.table(cols, schema=DROP_SCHEMA)


def with_reason(docs: pa.Table, reasons: list[str] | str, stage: str | None = None) -> pa.Table:
    """Turn DOC_SCHEMA rows into DROP_SCHEMA rows with the given reason(s)."""
    n = docs.num_rows
    if isinstance(reasons, str):
        reasons = [reasons] * n
    docs = docs.select([f.name for f in DOC_SCHEMA]).cast(DOC_SCHEMA)
    return docs.append_column(DROP_SCHEMA.field("reason"), pa.array(reasons, pa.string())).append_column(
        DROP_SCHEMA.field("stage"), pa.array([stage] * n, pa.string())
    )


def empty_docs() -> pa.Table:
    return DOC_SCHEMA.empty_table()


def empty_drops() -> pa.Table:
    return DROP_SCHEMA.empty_table()


def meta_dicts(table: pa.Table) -> list[dict[str, Any]]:
    """The ``meta`` column as a list of plain dicts (typed values)."""
    return [decode_meta(m) for m in table.column("meta").to_pylist()]


def meta_array(metas: Iterable[Mapping[str, Any] | None]) -> pa.Array:
    """A ``meta`` column from dicts."""
    return pa.array([encode_meta(m) for m in metas], META_TYPE)


def set_meta(table: pa.Table, updates: list[Mapping[str, Any]]) -> pa.Table:
    """Return ``table`` with each row's meta updated by the matching dict in ``updates``."""
    metas = meta_dicts(table)
    for m, u in zip(metas, updates, strict=True):
        m.update({str(k): v for k, v in u.items()})
    idx = table.schema.get_field_index("meta")
    return table.set_column(idx, table.schema.field("meta"), meta_array(metas))


def split_by_source(table: pa.Table, names: list[str]) -> tuple[pa.Table, pa.Table]:
    """(rows whose ``source`` or ``kind`` is one of ``names``, the other rows)."""
    values = pa.array(names, pa.string())
    mask = pc.or_(pc.is_in(table["source"], values), pc.is_in(table["kind"], values))
    return table.filter(mask), table.filter(pc.invert(mask))
