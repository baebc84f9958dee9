"""The document schema shared by every stage, and helpers to build and inspect batches.

A document is one row: ``id`` (stable: derived from source + location + content), ``source`` (the recipe's
source name), ``kind`` (web|wiki|books|code|...), ``url`` (URL or path), ``text`` and ``meta``
(string -> string map for provenance, scores and decisions). Dropped and errored rows carry the same
columns plus ``reason`` (a short machine-readable code, e.g. ``lang:fr`` or ``dedup:exact``) and
``stage``.
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

META_TYPE = pa.map_(pa.string(), pa.string())

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

DROP_SCHEMA = pa.schema(list(DOC_SCHEMA) + [pa.field("reason", pa.string(), nullable=False),
                                            pa.field("stage", pa.string())])


def doc_id(source: str, location: str, text: str | bytes) -> str:
    """Stable document id: a hash of source name, location (URL, path, byte offset...) and content."""
    h = hashlib.blake2b(digest_size=16)
    for part in (source, location):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    h.update(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _meta_items(meta: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if not meta:
        return []
    return [(str(k), "" if v is None else str(v)) for k, v in meta.items()]


def docs_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Build a DOC_SCHEMA table from dicts with keys id, source, kind, url, text, meta (a dict)."""
    cols: dict[str, list] = {f.name: [] for f in DOC_SCHEMA}
    for r in rows:
        for name in ("id", "source", "kind", "url", "text"):
            cols[name].append(r.get(name))
        cols["meta"].append(_meta_items(r.get("meta")))
    return pa.table(cols, schema=DOC_SCHEMA)


def drops_table(rows: Iterable[Mapping[str, Any]], stage: str | None = None) -> pa.Table:
    """Build a DROP_SCHEMA table from dicts like ``docs_table`` plus ``reason`` (and optional ``stage``)."""
    cols: dict[str, list] = {f.name: [] for f in DROP_SCHEMA}
    for r in rows:
        for name in ("id", "source", "kind", "url", "text", "reason"):
            cols[name].append(r.get(name) if name != "id" else (r.get("id") or ""))
        cols["source"][-1] = cols["source"][-1] or ""
        cols["kind"][-1] = cols["kind"][-1] or ""
        cols["meta"].append(_meta_items(r.get("meta")))
        cols["stage"].append(r.get("stage", stage))
    return pa.table(cols, schema=DROP_SCHEMA)


def with_reason(docs: pa.Table, reasons: list[str] | str, stage: str | None = None) -> pa.Table:
    """Turn DOC_SCHEMA rows into DROP_SCHEMA rows with the given reason(s)."""
    n = docs.num_rows
    if isinstance(reasons, str):
        reasons = [reasons] * n
    docs = docs.select([f.name for f in DOC_SCHEMA]).cast(DOC_SCHEMA)
    return docs.append_column(DROP_SCHEMA.field("reason"), pa.array(reasons, pa.string())).append_column(
        DROP_SCHEMA.field("stage"), pa.array([stage] * n, pa.string()))


def empty_docs() -> pa.Table:
    return DOC_SCHEMA.empty_table()


def empty_drops() -> pa.Table:
    return DROP_SCHEMA.empty_table()


def meta_dicts(table: pa.Table) -> list[dict[str, str]]:
    """The ``meta`` column as a list of plain dicts."""
    return [dict(m) if m else {} for m in table.column("meta").to_pylist()]


def set_meta(table: pa.Table, updates: list[Mapping[str, Any]]) -> pa.Table:
    """Return ``table`` with each row's meta updated by the matching dict in ``updates``."""
    metas = meta_dicts(table)
    merged = []
    for m, u in zip(metas, updates, strict=True):
        m.update({str(k): "" if v is None else str(v) for k, v in u.items()})
        merged.append(list(m.items()))
    idx = table.schema.get_field_index("meta")
    return table.set_column(idx, table.schema.field("meta"), pa.array(merged, META_TYPE))


def split_by_source(table: pa.Table, names: list[str]) -> tuple[pa.Table, pa.Table]:
    """(rows whose ``source`` or ``kind`` is one of ``names``, the other rows)."""
    values = pa.array(names, pa.string())
    mask = pc.or_(pc.is_in(table["source"], values), pc.is_in(table["kind"], values))
    return table.filter(mask), table.filter(pc.invert(mask))
