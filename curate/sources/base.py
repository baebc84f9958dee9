"""The reader contract: a source is split into serialisable work units, each read into a StageResult.

A unit is a whole file or a record-aligned byte range of one (so a multi-GB WARC or dump is read by
several tasks). ``read(unit)`` returns the whole unit; ``read(unit, sink)`` streams it, handing
``sink`` one StageResult per batch of rows in reading order and returning the rest. It never raises for bad records: it returns them as ``dropped`` or ``errors`` rows
with a reason (with ``id`` empty when no stable id can be formed), so every record is accounted for.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar

from curate.sources.safe import files_of, input_size, is_local, open_input, printable
from curate.stage import StageResult


@dataclass(frozen=True)
class Unit:
    path: str  # local path or fsspec URL
    start: int = 0  # byte offset where this unit's first record starts
    end: int | None = None  # byte offset after which no new record starts (None: end of file)
    first_record: int = 0  # records of the file before ``start``, for readers that number them file-wide

    def label(self) -> str:
        """Printable (an undecodable file name's bytes escaped), for rows, logs and summaries."""
        return printable(self.path if self.start == 0 and self.end is None else f"{self.path}@{self.start}-{self.end}")


class Reader:
    """Base class. Subclasses set ``format`` and a ``Config`` dataclass (the recipe's ``options``)."""

    format: ClassVar[str] = ""

    @dataclass
    class Config:
        pass

    def __init__(self, source: str, kind: str, config: Any | None = None):
        self.source = source  # recipe source name, written into every row
        self.kind = kind
        self.config = config if config is not None else self.Config()

    def units(self, paths: list[str], ranges: int = 1) -> list[Unit]:
        """Work units for the given (already expanded, sorted) paths; default: one per file (a directory:
        one per file under it). A reader that can cut a file into record-aligned ranges makes about
        ``ranges`` units of the source's files (see ``range_step``); others ignore it."""
        return [Unit(p) for p in files_of(paths)]

    def read(
        self, unit: Unit, sink: Callable[[StageResult], None] | None = None
    ) -> StageResult:  # pragma: no cover - abstract
        """The unit's rows; with a ``sink``, batches of them go to it as they are read and the rest is
        returned (the runner streams a unit this way, so its memory is a batch, not the unit)."""
        raise NotImplementedError


Cut = int | tuple[int, int]  # a unit's start offset, or (start offset, records before it)

# A range is never cut smaller than this (input bytes): a task's fixed cost (its part files, a Ray task, the
# stages' set-up: 10-30 ms) stays small beside reading, extracting and filtering half a MiB of web pages
# (0.3-1.2 CPU-s on the sample WARC). Smaller ranges balance the workers better: the costliest MiB of that
# file took 2.2 CPU-s against 0.5-1.0 for the others, and as the last task it left one worker idle.
MIN_RANGE_BYTES = 1 << 19
# Tasks go biggest first, so a job's last ranges run last, and while the final one ends on one worker the others
# have nothing left to do (0.35-0.55 s of one idle worker at the end of the sample WARC's read, traced). The last
# TAPER_RANGES ranges of the job's last split file are cut at half the step: the workers then finish within half
# a range of each other (0-0.15 s traced), for TAPER_RANGES more tasks.
TAPER_RANGES = 4


def range_step(total: int, ranges: int, split_bytes: int) -> int:
    """The byte size ranges are cut at: ``split_bytes`` (the most a unit may be), or for ``ranges`` > 1 the
    source's ``total`` bytes over ``ranges``, but at least ``MIN_RANGE_BYTES``. It depends on the inputs
    only, never on the workers, so units and outputs are the same whatever the number of workers."""
    if ranges <= 1:
        return split_bytes
    return min(split_bytes, max(MIN_RANGE_BYTES, -(-total // ranges)))


def _offset(cut: Cut) -> int:
    return cut[0] if isinstance(cut, tuple) else cut


def _tapered(cuts: list[Cut], half_cuts: list[Cut]) -> list[Cut]:
    """``cuts`` up to its last ``TAPER_RANGES`` ranges, then the cuts at half the step from there on."""
    at = _offset(cuts[-TAPER_RANGES])
    return [c for c in cuts if _offset(c) < at] + [c for c in half_cuts if _offset(c) >= at]


def debug(msg: str) -> None:
    """A planning detail (why a file stays one unit) on stderr, only with ``CURATE_DEBUG=1``."""
    if os.environ.get("CURATE_DEBUG"):
        print(f"debug: {printable(msg)}", file=sys.stderr)


def split_units(
    paths: list[str], split_bytes: int, starts: Callable[[BinaryIO, int, int], list[Cut]], ranges: int = 1
) -> list[Unit]:
    """One unit per file, or for a file larger than the step (``range_step``; ``split_bytes`` for a remote
    file, whose cuts would cost range requests) one per range between the offsets ``starts(file, size,
    step)`` returns (ascending, beginning with 0; ``[0]`` keeps the file whole)."""
    out: list[Unit] = []
    files = files_of(paths)
    sizes = [input_size(p) for p in files]  # 0 for an input that will be refused (a FIFO, a link out of the root)
    step = range_step(sum(sizes), ranges, split_bytes)
    local = [is_local(p) for p in files]
    # the job's last local file cut into ranges gets the finer tail (a remote file's would cost range requests)
    taper = max((i for i, (n, loc) in enumerate(zip(sizes, local)) if loc and ranges > 1 and n > step), default=-1)
    for i, (p, size, loc) in enumerate(zip(files, sizes, local)):
        cuts: list[Cut] = [0]
        cut_at = step if loc else split_bytes
        if size > cut_at:
            with open_input(p) as f:
                cuts = starts(f, size, cut_at)
                if i == taper and len(cuts) > TAPER_RANGES:
                    f.seek(0)
                    cuts = _tapered(cuts, starts(f, size, cut_at // 2))
        pairs = [c if isinstance(c, tuple) else (c, 0) for c in cuts]
        ends = [s for s, _ in pairs[1:]] + [None]
        out.extend(Unit(p, s, e, first) for (s, first), e in zip(pairs, ends))
    return out
