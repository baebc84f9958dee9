"""The ``extract`` stage: HTML in ``text`` -> main text, one document at a time.

Rows whose ``meta.extracted`` is ``1`` (WET conversions, already plain text) pass through unchanged.
An empty result is dropped (``extract:empty``, or ``extract:short`` under ``min_chars``), an HTML payload
over ``max_html_bytes`` is dropped (``extract:oversized``), a page the fast engine hands to trafilatura
whose pruned tree holds more than ``max_fallback_elements`` elements is dropped before trafilatura runs
(``extract:fallback_too_large``: a bound on its cost that, unlike the CPU timeout, does not depend on the
machine's speed; see ``engines.FALLBACK_ELEMENTS``), one whose elements nest deeper than
``max_depth`` is dropped before any parser sees it (``extract:too_deep``: the HTML parsers run in C, where
the deadline cannot interrupt them, and lexbor's tree building is quadratic in the nesting depth: 100,000
nested ``<div>`` take 9 s, a few MB of them minutes), a document over ``timeout_s`` is dropped
(``extract:timeout``), text that is not valid Unicode is an error (``extract:invalid_unicode``) and an
extractor exception is an error (``error:<Exception>``); a bad page never fails the batch.

Timeout: ``signal.setitimer(ITIMER_PROF)`` armed around each document, which interrupts the extractor
in the task's main thread (Ray runs task code there) without leaving a thread or process behind. It
counts the process's CPU time, not wall time, so whether a page times out does not depend on how loaded
the machine is; ``ExtractTimeout`` is a BaseException and re-raised every 50 ms of CPU until the document
is abandoned, so library code catching ``Exception`` cannot swallow it. Where
the stage runs outside the main thread the timer cannot be armed; the ``max_html_bytes`` guard then
bounds the work (the extractors are linear-time in the input size).
"""

from __future__ import annotations

import re
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pyarrow as pa

from curate.config import bounds
from curate.extract.engines import ENGINES, FALLBACK_ELEMENTS, FallbackTooLarge
from curate.lean import release_freed_memory
from curate.schema import DOC_SCHEMA, docs_table, drops_table, meta_dicts, storable_utf8
from curate.stage import Stage, StageResult


class ExtractTimeout(BaseException):
    """A BaseException, like KeyboardInterrupt: trafilatura runs its readability and justext fallbacks
    under ``except Exception``, which swallowed a timeout raised there and let the page run on."""


# Tags that never hold children or whose end tag is implied: they do not deepen the tree.
_FLAT_TAGS = frozenset(
    "area base br col embed hr img input link meta param source track wbr p li dt dd tr td th "
    "option optgroup rb rt rp thead tbody tfoot colgroup caption html head body".split()
)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]{0,30})")


def nesting_exceeds(html: str, limit: int) -> bool:
    """Whether the elements of ``html`` nest deeper than ``limit`` (an upper estimate: unclosed elements
    count as open). Only pages with more than ``limit`` opening tags are scanned (every opening tag is a ``<``
    not followed by ``/``, and only opening tags deepen the tree), so normal pages pay one or two counts."""
    if limit <= 0:
        return False
    tags = html.count("<")
    if tags <= limit or tags - html.count("</") <= limit:
        return False
    depth = 0
    for close, name in _TAG.findall(html):
        if name.lower() in _FLAT_TAGS:
            continue
        if close:
            depth = depth - 1 if depth else 0
        else:
            depth += 1
            if depth > limit:
                return True
    return False


REFIRE_S = 0.05  # after the deadline, raise again every 50 ms of CPU in case a bare ``except:`` ate it


@contextmanager
def deadline(seconds: float) -> Iterator[bool]:
    """Raise ExtractTimeout in this block after ``seconds`` of process CPU time (main thread only;
    yields whether armed)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield False
        return
    armed = [True]

    def expired(signum: int, frame: Any) -> None:
        if armed[0]:  # a signal still pending when the block has ended must not raise outside it
            raise ExtractTimeout()

    old = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, seconds, REFIRE_S)  # re-raised until the block exits
    try:
        yield True
    finally:
        try:
            armed[0] = False
        finally:  # runs even when the deadline fires on the line above
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, old)


ROWS_PER_SLICE = 16


def _rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    """The rows as dicts, converted a few at a time: a batch's HTML (up to 32 MiB) is held once, as Arrow, not
    also as a list of Python strings (which can take up to 4 bytes per character)."""
    for start in range(0, table.num_rows, ROWS_PER_SLICE):
        yield from table.slice(start, ROWS_PER_SLICE).to_pylist()
        release_freed_memory()


class ExtractStage(Stage):
    name = "extract"

    @dataclass
    class Config:
        engine: str = "fast"  # fast | trafilatura | resiliparse
        timeout_s: float = field(default=5.0, metadata=bounds(ge=0))  # CPU seconds per document; 0 disables
        min_chars: int = field(default=1, metadata=bounds(ge=0))  # shorter main texts are dropped (extract:short)
        # larger HTML payloads are dropped (extract:oversized)
        max_html_bytes: int = field(default=8 << 20, metadata=bounds(ge=1))
        # deeper-nested HTML is dropped unparsed (extract:too_deep); 0 disables
        max_depth: int = field(default=5000, metadata=bounds(ge=0))
        # engine fast: pages whose pruned tree holds more elements skip trafilatura (extract:fallback_too_large);
        # 0 disables
        max_fallback_elements: int = field(default=FALLBACK_ELEMENTS, metadata=bounds(ge=0))

    def __init__(self, config: Any | None = None):
        super().__init__(config)
        if self.config.engine not in ENGINES:
            from curate.config import RecipeError

            raise RecipeError(
                f"stages.extract.engine: unknown engine {self.config.engine!r}; allowed: {', '.join(ENGINES)}"
            )

    def apply(self, batch: pa.Table, state: Any) -> StageResult:
        extract = ENGINES[self.config.engine]
        if self.config.engine == "fast":
            extract = partial(extract, max_fallback_elements=self.config.max_fallback_elements)
        kept, dropped, errors = [], [], []
        counters: Counter[str] = Counter()
        for row, meta in zip(_rows(batch.select([f.name for f in DOC_SCHEMA])), meta_dicts(batch)):
            row["meta"] = meta
            if str(meta.get("extracted")) == "1":
                kept.append(row)
                counters["passed_through"] += 1
                continue
            html = row.get("text") or ""
            row["text"] = None  # dropped rows do not carry the HTML
            limit = self.config.max_html_bytes  # a character is at most 4 bytes: most pages need no encoding
            if len(html) > limit // 4 and len(html.encode("utf-8", "surrogatepass")) > limit:
                dropped.append({**row, "reason": "extract:oversized"})
                continue
            if nesting_exceeds(html, self.config.max_depth):
                dropped.append({**row, "reason": "extract:too_deep"})
                continue
            try:
                with deadline(self.config.timeout_s):
                    text, info = extract(html, row.get("url"))
            except ExtractTimeout:
                dropped.append({**row, "reason": "extract:timeout"})
                continue
            except FallbackTooLarge:
                dropped.append({**row, "reason": "extract:fallback_too_large"})
                continue
            except Exception as e:  # one broken page must not fail the batch
                errors.append({**row, "reason": f"error:{type(e).__name__}", "meta": {**meta, "error": str(e)[:300]}})
                continue
            text = (text or "").strip()
            if not text or len(text) < self.config.min_chars:
                dropped.append({**row, "reason": "extract:empty" if not text else "extract:short"})
                continue
            meta.update(info, extracted=1, html_chars=len(html))
            if not storable_utf8(text) or not all(storable_utf8(str(v)) for v in meta.values()):
                errors.append({**row, "reason": "extract:invalid_unicode"})
                continue
            kept.append({**row, "text": text, "meta": meta})
            counters["extracted"] += 1
        return StageResult(
            kept=docs_table(kept),
            dropped=drops_table(dropped, self.name),
            errors=drops_table(errors, self.name),
            counters=dict(counters),
        )
