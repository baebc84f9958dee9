"""Documents in and out of files, for every standalone command: formats by extension, one reader, one writer.

Input (by extension, after an optional compression suffix .gz/.zst/.bz2/.xz): JSON Lines (``.jsonl``,
``.json``, ``.ndjson``), Parquet (``.parquet``) and WARC/WET/ARC (``.warc``, ``.wet``, ``.arc``). JSONL and
Parquet rows are documents: ``text`` is required, ``id``/``source``/``kind``/``url``/``meta`` are kept when
present (``meta`` as a JSON object, or the JSON string of a curate Parquet file), so a curate output read
back gives the same documents. Missing ``source`` is the recipe source's name (a file's name says nothing:
``part-0``), missing ``kind`` is ``web``, missing ``url`` is ``path#line``. The document id is always
``schema.doc_id(source, file#record, text)`` (see ``_record_key``), unique in the run whatever the input's
ids (``id`` 0, 1, 2 ... in every file is common); the input's ``id`` is kept as ``meta.source_id`` (a
``source_id`` already in meta, as in a curate output read back, is kept as it is).
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from curate.batches import BATCH_ROWS, read_batches
from curate.io import atomic_path
from curate.schema import DOC_SCHEMA, DROP_SCHEMA, decode_meta, doc_id, encode_meta, escape_surrogates, storable_utf8
from curate.sources._util import Rows
from curate.sources.tabular import JsonlReader, ParquetReader

COMPRESSIONS = (".gz", ".zst", ".zstd", ".bz2", ".xz")
INPUT_FORMATS = {
    ".jsonl": "documents-jsonl",
    ".json": "documents-jsonl",
    ".ndjson": "documents-jsonl",
    ".parquet": "documents-parquet",
    ".warc": "warc",
    ".wet": "warc",
    ".arc": "warc",
}
OUTPUT_EXTENSIONS = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".jsonl.bz2", ".parquet")


class FormatError(ValueError):
    """A file name whose extension names no supported format; the message lists the supported ones."""


def _strip_compression(name: str) -> tuple[str, str]:
    low = name.lower()
    for c in COMPRESSIONS:
        if low.endswith(c):
            return low[: -len(c)], c
    return low, ""


def input_format(path: str) -> str:
    """The reader format of an input path (``documents-jsonl``, ``documents-parquet`` or ``warc``)."""
    base, comp = _strip_compression(os.path.basename(path.rstrip("/")))
    for ext, fmt in INPUT_FORMATS.items():
        if base.endswith(ext) and not (comp and fmt == "documents-parquet"):
            return fmt
    raise FormatError(
        f"input {path!r}: unsupported file type; supported: "
        f"{', '.join(INPUT_FORMATS)} (JSONL and WARC also compressed: {', '.join(COMPRESSIONS)})"
    )


def output_extension(path: str | Path) -> str:
    """The supported extension ``path`` ends with; a FormatError naming the supported ones otherwise."""
    name = str(path).lower()
    for ext in sorted(OUTPUT_EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return ext
    raise FormatError(f"output {str(path)!r}: unsupported extension; supported: {', '.join(OUTPUT_EXTENSIONS)}")


def dropped_path(output: str | Path) -> Path:
    """Where the dropped and errored rows of ``output`` go: ``x.jsonl.gz`` -> ``x.dropped.jsonl.gz``."""
    out = Path(output)
    ext = output_extension(out)
    return out.with_name(out.name[: -len(ext)] + ".dropped" + out.name[len(out.name) - len(ext) :])


class OutputError(ValueError):
    """An output that cannot be written; raised before any work is done."""


def check_writable(path: str | Path, is_dir: bool = False) -> None:
    """Fail before any work if ``path`` (a file, or a directory with ``is_dir``) cannot be written: creates
    the directory that holds it and a probe file there, so a read-only mount or a missing permission shows
    now (even for root), not after the whole run."""
    p = Path(path).absolute()
    d = p if is_dir else p.parent
    try:
        if p.exists() and not is_dir and not os.access(p, os.W_OK):
            raise PermissionError(f"{p} is read-only")
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=d, prefix=".curate-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"cannot write to {path}: {e.strerror or e}") from None


# ---------------------------------------------------------------- readers


def _record_key(location: str, extra: dict[str, Any]) -> str:
    """A record's place for its id: the file's path without its format extensions and the record's 0-based
    number (``docs.jsonl.gz#1``, line 1, and ``docs.parquet#0``, row 0, are both ``docs#0``), so the same
    records converted to another format keep their ids."""
    path = location.rsplit("#", 1)[0]
    base, comp = _strip_compression(path)
    for ext in INPUT_FORMATS:
        if base.endswith(ext):
            path = path[: len(path) - len(comp) - len(ext)]
            break
    number = extra["line"] - 1 if "line" in extra else extra.get("row", location.rsplit("#", 1)[-1])
    return f"{path}#{number}"


class _DocumentRows:
    """Maps a JSONL/Parquet record to a document, keeping its own id, source, kind, url and meta."""

    keeps_row_source = True  # a recipe's source names are not the rows' (see recipe._check_source_names)

    def row(
        self, rows: Rows, rec: dict[str, Any], location: str, extra: dict[str, Any], place: str | None = None
    ) -> None:
        text = rec.get("text")
        if not isinstance(text, str):
            reason = "tabular:missing_text" if text is None else "tabular:non_string_text"
            return rows.drop(reason, location, extra)
        if not text.strip():
            return rows.drop("tabular:empty_text", location, extra)
        if not all(storable_utf8(v) for v in (text, rec.get("id"), rec.get("source"), rec.get("kind"), rec.get("url"))):
            return rows.error("tabular:lone_surrogate", location, extra)  # not storable as UTF-8
        source = rec.get("source") if isinstance(rec.get("source"), str) and rec["source"] else self.source
        try:  # encoded once here, so a meta nested deeper than the stack is this record's error
            meta = decode_meta(rec.get("meta"))
            rid = rec.get("id")
            if rid not in (None, "") and isinstance(meta, dict) and "source_id" not in meta:
                meta["source_id"] = rid if isinstance(rid, str) else json.dumps(rid, ensure_ascii=False, default=str)
            meta = encode_meta(meta)
        except RecursionError:
            return rows.error("tabular:meta_too_deep", location, extra)
        rows.add_kept(
            {
                "id": doc_id(source, _record_key(place or location, extra), text),
                "source": source,
                "kind": rec["kind"] if isinstance(rec.get("kind"), str) else "web",
                "url": rec["url"] if isinstance(rec.get("url"), str) else location,
                "text": text,
                "meta": meta,
            }
        )


class DocumentJsonlReader(_DocumentRows, JsonlReader):
    format = "documents-jsonl"


class DocumentParquetReader(_DocumentRows, ParquetReader):
    format = "documents-parquet"


# ---------------------------------------------------------------- writers


@contextmanager
def _compressed(raw: BinaryIO, ext: str) -> Iterator[BinaryIO]:
    if ext.endswith(".gz"):
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            yield f
    elif ext.endswith(".zst"):
        import zstandard

        with zstandard.ZstdCompressor().stream_writer(raw, closefd=False) as f:
            yield f
    elif ext.endswith(".bz2"):
        with bz2.BZ2File(raw, "wb") as f:
            yield f
    else:
        yield raw


def _jsonl_lines(table: pa.Table) -> bytes:
    out = []
    for r in table.to_pylist():
        r["meta"] = decode_meta(r.get("meta"))
        line = json.dumps(r, ensure_ascii=False)
        try:
            out.append(line.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate in meta: keep it as a \u escape, the file stays UTF-8
            out.append(escape_surrogates(line).encode("utf-8"))
    return b"".join(x + b"\n" for x in out)


def write_tables(tables: Iterable[pa.Table], path: str | Path, schema: pa.Schema = DOC_SCHEMA) -> int:
    """Write ``tables`` (in order) to ``path`` in the format its extension names; returns the row count."""
    path = Path(path)
    ext = output_extension(path)
    rows = 0
    with atomic_path(path) as tmp:
        if ext == ".parquet":
            with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
                for t in tables:
                    w.write_table(t.select(schema.names).cast(schema))
                    rows += t.num_rows
            return rows
        with open(tmp, "wb") as raw, _compressed(raw, ext) as f:
            for t in tables:
                for batch in t.select(schema.names).to_batches(max_chunksize=BATCH_ROWS):
                    f.write(_jsonl_lines(pa.Table.from_batches([batch])))
                rows += t.num_rows
    return rows


def iter_parts(parts: Iterable[Path], schema: pa.Schema) -> Iterator[pa.Table]:
    """The rows of Parquet ``parts`` batch by batch (``curate.batches.read_batches``), cast to ``schema``."""
    for p in parts:
        yield from read_batches(p, schema.names, schema=schema)


def export_run(run_dir: Path, output: str | Path, dropped: str | Path) -> dict[str, int]:
    """Copy a run's last step's kept parts to ``output`` and every step's dropped and errored rows to
    ``dropped`` (step by step, part by part). Returns the row counts written."""
    steps = [s["dir"] for s in json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["stages"]]
    kept = write_tables(iter_parts(sorted((run_dir / "stages" / steps[-1]).glob("part-*.parquet")), DOC_SCHEMA), output)
    removed = [
        p for s in steps for root in ("dropped", "errors") for p in sorted((run_dir / root / s).glob("part-*.parquet"))
    ]
    n_dropped = write_tables(iter_parts(removed, DROP_SCHEMA), dropped, DROP_SCHEMA)
    return {"kept": kept, "dropped": n_dropped}
