"""Helpers shared by the readers: row collection (a record is the unit of failure), safe opening, and
retry with backoff for remote reads."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar

from curate.partio import BATCH_BYTES, BATCH_ROWS
from curate.schema import docs_table, drops_table, encode_meta, storable_utf8
from curate.sources.charset import lone_cr_to_lf
from curate.sources.safe import UnsafeInput, open_input, printable
from curate.stage import StageResult
from curate.urls import is_url

T = TypeVar("T")

# Errors worth retrying on a remote path: the connection, not the data. Data errors (bad gzip, bad XML)
# are never retried: they would fail the same way again.
_NETWORK: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


def transient_errors() -> tuple[type[BaseException], ...]:
    """The network errors, with aiohttp's (fsspec's HTTP filesystem raises them) once aiohttp is loaded: none
    of its errors can exist before, and a local run need not load it (14 MB)."""
    aiohttp = sys.modules.get("aiohttp")
    return _NETWORK + (aiohttp.ClientError,) if aiohttp is not None else _NETWORK


def with_retries(path: str, fn: Callable[[], T], attempts: int = 4, backoff_s: float = 0.5) -> T:
    """Run ``fn`` (a whole, side-effect-free read of ``path``); on a transient network error of a remote
    path, wait ``backoff_s * 2**k`` and run it again from the start (so a retry cannot duplicate rows)."""
    if not is_url(path):
        return fn()
    for k in range(attempts):
        try:
            return fn()
        except transient_errors():
            if k == attempts - 1:
                raise
            time.sleep(backoff_s * (2**k))
    raise AssertionError("unreachable")


def open_file(path: str, compression: str | None = None) -> Any:
    """Open a local path (regular files inside the source root only, see ``curate.sources.safe``) or an
    fsspec URL; ``compression="infer"`` decompresses by extension."""
    return open_input(path, compression)


def _clean_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    return {printable(str(k)): printable(v) if isinstance(v, str) else v for k, v in (meta or {}).items()}


class ByteRange:
    """The bytes [start, end) of a seekable binary file, as a readable file (``end`` None: to EOF)."""

    def __init__(self, f: BinaryIO, start: int, end: int | None):
        f.seek(start)
        self.f, self.left = f, (None if end is None else end - start)

    def read(self, n: int = -1) -> bytes:
        if self.left is not None:
            n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.f.read(n)
        if self.left is not None:
            self.left -= len(data)
        return data


Sink = Callable[[StageResult], None]


class SinkFailed(BaseException):
    """A sink raised (a disk full while writing a batch...): a failure of the task, not of the record being
    read, so it is not an ``Exception`` that a reader's per-record handling would count and go on from."""

    def __init__(self, error: BaseException):
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


# A streaming reader hands its sink a batch every this many rows or characters of text. Its rows are Python
# objects until then (HTML for the extract stage: up to 4 bytes per character), and the runner re-cuts what
# it hands over into batches of BATCH_ROWS / BATCH_BYTES by the rows alone (segment.Rebatch), so a smaller
# flush here bounds that copy without changing a batch a stage sees or a byte written.
READ_BATCH_ROWS, READ_BATCH_BYTES = BATCH_ROWS, BATCH_BYTES // 8


class Rows:
    """Collects the kept, dropped and errored rows of one unit. Without a ``sink`` they accumulate and
    ``result()`` returns them all; with one, every ``batch_rows`` rows (or ``batch_bytes`` of text) the rows
    held so far go to ``sink`` as one StageResult, so a unit's memory is a batch, not the unit.

    ``emitted`` (shared by the attempts of one unit) counts the rows of each kind, and the counters, already
    sent to the sink: a retried attempt re-reads the unit from its start and suppresses those, so a
    transient failure after a flush neither loses nor duplicates a row."""

    def __init__(self, source: str, kind: str, sink: Sink | None = None, emitted: dict[str, Any] | None = None):
        self.source, self.kind, self.sink = source, kind, sink
        self.batch_rows, self.batch_bytes = READ_BATCH_ROWS, READ_BATCH_BYTES
        self.kept: list[dict] = []
        self.dropped: list[dict] = []
        self.errors: list[dict] = []
        self.counters: dict[str, int] = {}  # this attempt's running totals
        self.emitted = emitted if emitted is not None else {}
        self.seen = {"kept": 0, "dropped": 0, "errors": 0}  # rows of this attempt, held, flushed or suppressed
        self._bytes = 0

    def _add(self, which: str, row: dict) -> None:
        try:  # encoded here, so meta nested deeper than the stack is this record's error, not its batch's
            row["meta"] = encode_meta(row["meta"])
        except RecursionError:
            if which == "kept":
                return self.error("input:too_deep", row["url"], {"error": "meta nested too deep"}, row["id"])
            row["meta"] = encode_meta({"error": "meta nested too deep"})
        self.seen[which] += 1
        if self.seen[which] <= self.emitted.get(which, 0):
            return  # sent to the sink by an earlier attempt of this unit
        getattr(self, which).append(row)
        self._bytes += len(row["text"] or "")
        held = len(self.kept) + len(self.dropped) + len(self.errors)
        if self.sink is not None and (held >= self.batch_rows or self._bytes >= self.batch_bytes):
            try:
                self.sink(self.result())
            except Exception as e:
                raise SinkFailed(e) from e

    @property
    def records(self) -> int:
        """Kept and dropped rows so far in this attempt (flushed ones included)."""
        return self.seen["kept"] + self.seen["dropped"]

    def add_kept(self, row: dict, markup: bool = False) -> None:
        """Keep a row already in the document schema (a reader that sets its own source/kind). A lone CR in
        text becomes LF (counted per document, ``lone_cr_to_lf``), so every later stage finds lines by
        splitting on LF (CRLF is kept: its CR strips as trailing space); ``markup`` (HTML for the extract
        stage, whose breaks are not lines) is kept as it is."""
        if not markup and "\r" in (row["text"] or ""):
            text = lone_cr_to_lf(row["text"])
            if text != row["text"]:
                row["text"] = text
                self.counters["lone_cr_to_lf"] = self.counters.get("lone_cr_to_lf", 0) + 1
        self._add("kept", row)

    def keep(self, id: str, url: str | None, text: str, meta: dict[str, Any], markup: bool = False) -> None:
        """Keep a document (see ``add_kept``); text that is not valid Unicode (a lone surrogate) errors this
        record only."""
        if not storable_utf8(text):
            return self.error("input:invalid_unicode", url, meta, id)
        self.add_kept(
            {
                "id": id,
                "source": self.source,
                "kind": self.kind,
                "url": None if url is None else printable(url),
                "text": text,
                "meta": _clean_meta(meta),
            },
            markup,
        )

    def drop(
        self,
        reason: str,
        url: str | None = None,
        meta: dict[str, Any] | None = None,
        id: str = "",
        text: str | None = None,
    ) -> None:
        self._add(
            "dropped",
            {
                "id": id,
                "source": self.source,
                "kind": self.kind,
                "url": None if url is None else printable(url),
                "text": None if text is None else printable(text),
                "meta": _clean_meta(meta),
                "reason": reason,
            },
        )

    def error(self, reason: str, url: str | None = None, meta: dict[str, Any] | None = None, id: str = "") -> None:
        self._add(
            "errors",
            {
                "id": id,
                "source": self.source,
                "kind": self.kind,
                "url": None if url is None else printable(url),
                "text": None,
                "meta": _clean_meta(meta),
                "reason": reason,
            },
        )

    def error_from(self, exc: BaseException, url: str | None = None, meta: dict[str, Any] | None = None) -> None:
        if isinstance(exc, UnsafeInput):
            return self.drop(exc.reason, url, meta)
        self.error(f"error:{type(exc).__name__}", url, {**(meta or {}), "error": str(exc)[:300]})

    @contextmanager
    def record(self, url: str | None, meta: dict[str, Any] | None = None) -> Iterator[None]:
        """Wrap the handling of one record: any failure in it (not a transient network error) becomes
        one error row with the record's location, and the reader goes on with the next record."""
        try:
            yield
        except transient_errors():
            raise
        except RecursionError as e:  # a record nested too deep for a recursive parser
            self.error("input:too_deep", url, {**(meta or {}), "error": str(e)[:300]})
        except Exception as e:
            self.error_from(e, url, meta)

    def result(self, stage: str = "read") -> StageResult:
        """The rows held (all of them without a sink, else those since the last flush), which are then let go."""
        done = self.emitted.setdefault("counters", {})
        counters = {k: v - done.get(k, 0) for k, v in self.counters.items() if v > done.get(k, 0)}
        out = StageResult(
            kept=docs_table(self.kept),
            dropped=drops_table(self.dropped, stage),
            errors=drops_table(self.errors, stage),
            counters=counters,
        )
        done.update({k: max(v, done.get(k, 0)) for k, v in self.counters.items()})
        self.emitted.update({k: max(v, self.emitted.get(k, 0)) for k, v in self.seen.items()})
        self.kept, self.dropped, self.errors, self._bytes = [], [], [], 0
        return out


def read_rows(reader: Any, unit: Any, body: Callable[[Rows], None], sink: Sink | None = None) -> StageResult:
    """Run ``body(rows)`` over one unit and return its rows (with a ``sink``: the rows not yet flushed to it).
    A transient network error of a remote path retries the whole unit with backoff
    (``reader.config.retries``, ``retry_backoff_s``); rows already flushed are not sent again."""
    emitted: dict[str, Any] = {}

    def attempt() -> StageResult:
        rows = Rows(reader.source, reader.kind, sink, emitted)
        body(rows)
        return rows.result()

    return with_retries(unit.path, attempt, reader.config.retries, reader.config.retry_backoff_s)


def read_unit(
    reader: Any, unit: Any, body: Callable[[Any, Rows], None], compression: str | None = None, sink: Sink | None = None
) -> StageResult:
    """Open ``unit.path`` and run ``body(file, rows)`` (see ``read_rows``); a failure that is not transient
    (corrupt data, a missing file) becomes one error row after the rows already read."""

    def body_of(rows: Rows) -> None:
        try:
            with open_file(unit.path, compression=compression) as f:
                body(f, rows)
        except transient_errors():
            raise
        except UnsafeInput as e:  # a link out of the source root, a FIFO...: never opened
            rows.drop(e.reason, unit.label())
        except Exception as e:
            rows.error_from(e, unit.label(), {"records_before_error": rows.records})
        if not any(rows.seen.values()) and unit.start == 0:
            rows.drop("input:no_records", unit.label())  # an empty file is reported, not silently skipped

    return read_rows(reader, unit, body_of, sink)
