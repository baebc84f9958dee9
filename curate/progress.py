"""Progress of a parallel pass: a tqdm bar on a terminal, otherwise one line to stderr every ~15 s
(done/total tasks, documents per second, ETA), so a run under ``nohup``, ``ray job submit`` or CI shows
that it is alive and how long it has left."""
from __future__ import annotations

import os
import sys
import time
from typing import Any


def _interval() -> float:
    try:
        return float(os.environ.get("CURATE_PROGRESS_S", "15"))
    except ValueError:
        return 15.0


def _fmt_s(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Counts finished tasks (and, when the caller knows them, documents) of one pass called ``desc``."""

    def __init__(self, desc: str, total: int, initial: int = 0):
        self.desc, self.total, self.done, self.docs = desc, total, initial, 0
        self._start_done = initial
        self._t0 = self._last = time.monotonic()
        self._every = _interval()
        self._bar: Any = None
        if total and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit="task", leave=False, file=sys.stderr)

    def update(self, docs: int = 0) -> None:
        self.done += 1
        self.docs += docs
        if self._bar is not None:
            self._bar.update(1)
            return
        now = time.monotonic()
        if self._every > 0 and now - self._last >= self._every and self.done < self.total:
            self._last = now
            print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float | None = None) -> str:
        el = max(1e-9, (now or time.monotonic()) - self._t0)
        ran = self.done - self._start_done
        rate = f", {self.docs / el:,.0f} docs/s" if self.docs else ""
        eta = f", ETA {_fmt_s(el / ran * (self.total - self.done))}" if ran else ""
        return f"[{self.desc}] {self.done}/{self.total} tasks{rate}{eta} ({_fmt_s(el)} elapsed)"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
