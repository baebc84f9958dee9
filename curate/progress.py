"""Progress of a parallel pass, measured inside the running tasks.

Each task (``TaskMeter``) counts the documents it has handled and the bytes of its input it has read, and a
daemon thread writes them every few seconds to a small heartbeat file ``<beats>/<task>.json`` in the run's
state folder (which every worker can write: the run's outputs are there too). The driver (``Progress``)
adds the heartbeats of the tasks in flight to the totals of the finished ones, so it holds one small record
per task in flight, never per-document data, and shows the pass while a task runs, even a single hour-long
task: a tqdm bar on a terminal, otherwise one line to stderr, the first after 2/3 of the interval, then one
every interval (``CURATE_PROGRESS_S``, default 15 s), with documents/s, bytes/s and an ETA from the bytes
read of the pass's known input size (from tasks done when the size is unknown, e.g. remote inputs).

Bytes read by a reader are the position of its input file (``/proc/self/fdinfo``: the reader needs no hook,
and for a compressed file they are compressed bytes, like the input size); where that is not available
(not Linux, a remote file) the task counts the bytes of the text it has handled.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any


def interval() -> float:
    """Seconds between progress lines (``CURATE_PROGRESS_S``; 0 or less: no lines)."""
    try:
        return float(os.environ.get("CURATE_PROGRESS_S", "15"))
    except ValueError:
        return 15.0


def _fmt_s(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _fmt_b(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"  # pragma: no cover - the loop returns


def read_position(path: str) -> int | None:
    """Offset of this process's open file ``path`` (the furthest if opened several times), None if closed or
    the platform has no ``/proc/self/fdinfo``."""
    try:
        target = os.path.realpath(path)
        best = None
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") != target:
                    continue
                with open(f"/proc/self/fdinfo/{fd}") as f:
                    pos = int(f.readline().split()[1])
            except (OSError, ValueError, IndexError):
                continue
            best = pos if best is None else max(best, pos)
        return best
    except OSError:
        return None


class TaskMeter:
    """Inside a task: ``with TaskMeter(...) as m: ... m.add(docs, nbytes)``. Writes ``beat`` (a JSON file) every
    ``every / 3`` seconds while the task runs. With ``watch`` (a local input file, read from ``start``), bytes
    are that file's read position; otherwise the sum of ``nbytes`` given to ``add``; both capped at
    ``total_bytes``."""

    def __init__(self, beat: Path | None, every: float, total_bytes: int, watch: str | None = None, start: int = 0):
        self.beat, self.total_bytes, self.watch, self.start = beat, total_bytes, watch, start
        self.docs = self.added_bytes = 0
        self._every = max(0.05, every / 3)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_pos = 0
        self._done_bytes = self._unit_bytes = 0  # a pack of units: the finished ones' bytes, the current one's

    def begin(self, watch: str | None, start: int, nbytes: int) -> None:
        """The next unit of a read task's pack: ``watch`` (a local file, read from ``start``; None: remote)
        of ``nbytes``; the units before it count as read whole."""
        self._done_bytes += self._unit_bytes
        self.watch, self.start, self._unit_bytes, self._last_pos = watch, start, nbytes, 0

    def add(self, docs: int, nbytes: int = 0) -> None:
        self.docs += docs
        self.added_bytes += nbytes

    def bytes_read(self) -> int:
        if self.watch is not None:
            pos = read_position(self.watch)
            if pos is not None:
                self._last_pos = max(self._last_pos, pos - self.start)
            if self._last_pos or pos is not None:
                return min(self.total_bytes, self._done_bytes + self._last_pos)
        return min(self.total_bytes, max(self.added_bytes, self._done_bytes))

    def _write(self) -> None:
        assert self.beat is not None
        tmp = self.beat.with_name(f".{self.beat.name}.tmp")
        try:
            tmp.write_text(json.dumps({"docs": self.docs, "bytes": self.bytes_read()}))
            os.replace(tmp, self.beat)
        except OSError:  # progress is best effort: a full disk fails the task's own writes, not this
            pass

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._write()

    def __enter__(self) -> TaskMeter:
        if self.beat is not None:
            self.beat.parent.mkdir(parents=True, exist_ok=True)
            self._thread = threading.Thread(target=self._run, name="curate-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Progress:
    """The driver's view of one pass called ``desc`` of ``total`` tasks (``initial`` of them already done by an
    earlier run) reading ``total_bytes`` (of the tasks to run now; 0: unknown). ``beats`` is the folder the
    tasks' meters write to (None: only finished tasks are counted)."""

    def __init__(self, desc: str, total: int, initial: int = 0, total_bytes: int = 0, beats: Path | None = None):
        self.desc, self.total, self.done, self.docs, self.bytes = desc, total, initial, 0, 0
        self.total_bytes, self.beats = total_bytes, beats
        self._start_done = initial
        self._t0 = self._last = time.monotonic()
        self._every = interval()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._bar: Any = None
        if total and sys.stderr.isatty():
            from tqdm import tqdm

            if total_bytes:  # bytes read of the input, else tasks done
                self._bar = tqdm(total=total_bytes, desc=desc, unit="B", unit_scale=True, leave=False, file=sys.stderr)
            else:
                self._bar = tqdm(total=total, initial=initial, desc=desc, unit="task", leave=False, file=sys.stderr)
        self._thread: threading.Thread | None = None
        if self._every > 0 and total > initial:
            self._thread = threading.Thread(target=self._tick, name="curate-progress", daemon=True)
            self._thread.start()

    def update(self, docs: int = 0, nbytes: int = 0, beat: str | None = None) -> None:
        """One task finished, having handled ``docs`` documents and ``nbytes`` input bytes; ``beat`` names its
        heartbeat file, removed here (under the lock, so the task is never counted twice)."""
        with self._lock:
            if beat and self.beats is not None:
                (self.beats / beat).unlink(missing_ok=True)
            self.done += 1
            self.docs += docs
            self.bytes += nbytes
        now = time.monotonic()
        if self._bar is None and 0 < self._every <= now - self._last and self.done < self.total:
            self._emit(now)

    def _running(self) -> tuple[int, int]:
        """Documents and bytes of the tasks in flight, from their heartbeats (one small file per task)."""
        docs = nbytes = 0
        if self.beats is not None and self.beats.is_dir():
            for f in self.beats.glob("*.json"):
                try:
                    beat = json.loads(f.read_text())
                    docs, nbytes = docs + int(beat["docs"]), nbytes + int(beat["bytes"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # removed or being replaced just now: counted at the next line
        return docs, nbytes

    def snapshot(self) -> tuple[int, int, int]:
        """Tasks done, documents and bytes so far (finished tasks plus the heartbeats of running ones)."""
        with self._lock:
            docs, nbytes = self._running()
            return self.done, self.docs + docs, self.bytes + nbytes

    def line(self, now: float | None = None) -> str:
        done, docs, nbytes = self.snapshot()
        el = max(1e-9, (now or time.monotonic()) - self._t0)
        text = f"[{self.desc}] {done}/{self.total} tasks, {docs:,} docs ({docs / el:,.0f} docs/s)"
        if self.total_bytes:
            text += f", {_fmt_b(nbytes)} of {_fmt_b(self.total_bytes)} read ({_fmt_b(nbytes / el)}/s)"
        ran = done - self._start_done
        if self.total_bytes and nbytes:
            text += f", ETA {_fmt_s(el / nbytes * max(0, self.total_bytes - nbytes))}"
        elif ran:
            text += f", ETA {_fmt_s(el / ran * (self.total - done))}"
        return text + f" ({_fmt_s(el)} elapsed)"

    def _emit(self, now: float) -> None:
        self._last = now
        if self._bar is not None:
            done, docs, nbytes = self.snapshot()
            self._bar.n = nbytes if self.total_bytes else done
            self._bar.set_postfix_str(f"{done}/{self.total} tasks, {docs:,} docs", refresh=True)
        else:
            print(self.line(now), file=sys.stderr, flush=True)

    def _tick(self) -> None:
        wait = self._every * 2 / 3  # the first line comes before a full interval
        while not self._stop.wait(max(0.05, wait)):
            self._emit(time.monotonic())
            wait = self._every

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.close()
