"""Lineage lookup: which original document (id, source, URL, text) a token of a shard came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from curate.io import OutsideRun, inside_run
from curate.shards.megatron import IndexedReader
from curate.termsafe import terminal_safe


class TraceError(ValueError):
    """A shard, token or run directory that ``trace`` cannot resolve; the message says which."""


def _shard_entry(manifest: dict, shard: str | int) -> dict:
    splits = manifest["splits"]
    if isinstance(shard, int) or str(shard).isdigit():
        train = splits.get("train", [])
        if not 0 <= int(shard) < len(train):
            raise TraceError(f"shard {shard}: the train split has {len(train)} shards")
        return train[int(shard)]
    for entries in splits.values():
        for e in entries:
            if shard in (e["name"], e["prefix"]):
                return e
    names = [e["name"] for v in splits.values() for e in v]
    raise TraceError(f"no shard {shard!r}; shards: {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}")


def _inside(run: Path, rel: Any, what: str) -> Path:
    try:
        return inside_run(run, rel, f"manifest.json {what}")
    except OutsideRun as e:
        raise TraceError(str(e)) from None


def _lineage_file(run: Path, manifest: dict, shard: str) -> Path:
    """The shard's own lineage file (``<set>/lineage/<shard>.parquet``); the whole table for older runs."""
    lineage = _inside(run, manifest["lineage"], "lineage")
    return _inside(run, f"{manifest['lineage']}/{shard}.parquet", "lineage") if lineage.is_dir() else lineage


def trace(run_dir: str | Path, shard: str | int, token: int) -> dict[str, Any]:
    """The document behind token ``token`` (0-based position in the shard's ``.bin``) of shard ``shard``
    (a name like ``train-00003``/``val-00000`` or an index into the train split)."""
    run = Path(run_dir)
    try:
        manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TraceError(f"{run}: no readable manifest.json (not a run with shards?): {e}") from None
    if not (
        isinstance(manifest, dict)
        and isinstance(manifest.get("splits"), dict)
        and isinstance(manifest.get("lineage"), str)
        and isinstance(manifest.get("eod_id"), int)
    ):
        raise TraceError(f"{run}/manifest.json: not a curate shard manifest (needs splits, lineage and eod_id)")
    try:
        entry = _shard_entry(manifest, shard)
        entry["name"], entry["prefix"]  # noqa: B018
    except (KeyError, TypeError, AttributeError) as e:
        raise TraceError(f"{run}/manifest.json: a shard entry is malformed ({type(e).__name__}: {e})") from None
    prefix = _inside(run, entry["prefix"], f"shard {entry['name']!r} prefix")
    try:
        reader = IndexedReader(prefix)
    except Exception as e:  # a missing, truncated or foreign .idx/.bin pair
        raise TraceError(
            f"shard {entry['name']}: cannot read {run / entry['prefix']}.idx/.bin: {type(e).__name__}: {e}"
        ) from None
    try:
        doc_index, offset = reader.locate(int(token))
    except IndexError as e:
        raise TraceError(f"shard {entry['name']}: {e} (tokens are numbered from 0)") from None
    lineage = _lineage_file(run, manifest, entry["name"])
    try:
        lin = pq.read_table(
            lineage,
            filters=[("shard", "==", entry["name"]), ("doc_index", "==", doc_index)],
            columns=["id", "source", "url", "repeat_index", "n_tokens"],
        ).to_pylist()
    except (OSError, ValueError, KeyError) as e:  # missing, damaged, or not a lineage table
        raise TraceError(f"shard {entry['name']}: cannot read its lineage {lineage}: {type(e).__name__}: {e}") from None
    if len(lin) != 1:
        raise TraceError(f"lineage {lineage} has {len(lin)} rows for {entry['name']} document {doc_index}")
    row = lin[0]
    token_id = int(reader.tokens[int(token)])
    out = {
        "shard": entry["name"],
        "token": int(token),
        "token_id": token_id,
        "doc_index": doc_index,
        "offset": offset,
        "is_eod": token_id == manifest["eod_id"] and offset == row["n_tokens"] - 1,
        **{k: row[k] for k in ("id", "source", "url", "repeat_index", "n_tokens")},
        "text": None,
    }
    root = run.resolve()  # the run's own stage outputs only, whatever the manifest says
    parts = [
        run / p
        for p in manifest.get("documents", [])
        if isinstance(p, str) and (run / p).is_file() and (run / p).resolve().is_relative_to(root)
    ]
    if parts:
        hit = ds.dataset(parts, format="parquet").to_table(columns=["text"], filter=pc.field("id") == row["id"])
        if hit.num_rows:
            out["text"] = hit.column("text")[0].as_py()
    return out


def format_trace(t: dict[str, Any], max_chars: int = 2000) -> str:
    """Human-readable trace for the CLI: every value from the data is shown with its control characters
    escaped (``curate.termsafe``), the one-line ones with their newlines escaped too."""
    text = t["text"] if t["text"] is not None else "(document text not found: stage outputs were removed?)"
    more = f"\n... ({len(text) - max_chars:,} more characters)" if len(text) > max_chars else ""
    one = {k: terminal_safe(str(t[k]), lines=False) for k in ("shard", "id", "source", "url")}
    return (
        f"shard {one['shard']} token {t['token']} (id {t['token_id']}{', end of document' if t['is_eod'] else ''})"
        f" = document {t['doc_index']} offset {t['offset']} of {t['n_tokens']}\n"
        f"id: {one['id']}\nsource: {one['source']}\nurl: {one['url']}\nrepeat: {t['repeat_index']}\n\n"
        f"{terminal_safe(text[:max_chars])}{more}"
    )
