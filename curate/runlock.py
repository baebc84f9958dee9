"""One run per output directory: an exclusive ``flock`` on ``<out>/.curate.lock``.

The kernel drops the lock when the holder exits, however it exits (SIGKILL included), so a stale lock
file never blocks a re-run; the pid written into it only names the holder in the refusal message.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK_NAME = ".curate.lock"
_held: dict[str, int] = {}  # resolved out dir -> fd, so nested holders in one process share the lock


class RunLocked(RuntimeError):
    """Another live process is running into the same output directory."""


@contextmanager
def hold_run_lock(out: Path) -> Iterator[None]:
    """Hold the output directory's lock for the duration; raise ``RunLocked`` naming the holder's pid."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    key = str(out.resolve())
    if key in _held:  # already ours (Pipeline.run holds it around Runner.run)
        yield
        return
    path = out / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunLocked(f"another curate run (pid {holder}) is writing to {out}; wait for it to finish "
                        f"or choose another --out") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[key] = fd
    try:
        yield
    finally:
        del _held[key]
        os.close(fd)  # releases the flock
