"""One run per output directory: an exclusive ``flock`` on ``<out>/.curate.lock``; and an output directory
belongs to curate only when curate made it.

The kernel drops the lock when the holder exits, however it exits (SIGKILL included), so a stale lock
file never blocks a re-run; the pid written into it only names the holder in the refusal message.

``<out>/.curate-run`` marks a directory curate made (new or empty when the run started). A non-empty
directory without it holds the user's files: the run is refused in one line, unless the user adopts it
(``--adopt-out``); a run directory of an older curate (``recipe.json`` and only curate's names) is adopted
without asking.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from curate.config import RecipeError
from curate.io import write_json_atomic

LOCK_NAME = ".curate.lock"
MARKER = ".curate-run"
LOCKS = (LOCK_NAME, ".lock")  # a run's and an ablation's lock files: a folder holding only these is empty
OUTPUT_NAMES = (
    "stages",
    "dropped",
    "errors",
    "_state",
    "shards",
    "tokenizer",
    "trainer",
    "manifest.json",
    "summary.json",
    "recipe.json",
    "report.html",
)  # and dot files, shards-<digest>/
_held: dict[str, int] = {}  # resolved out dir -> fd, so nested holders in one process share the lock


class RunLocked(RuntimeError):
    """Another live process is running into the same output directory."""


class NotCurateOut(RecipeError):
    """A non-empty output directory that curate did not make."""


def is_output_name(name: str, names: tuple[str, ...] = OUTPUT_NAMES) -> bool:
    """Whether a top-level entry of a run directory has one of the names a run writes."""
    return name in names or name.startswith((".", "shards-"))


def claim_out(
    out: Path,
    adopt: bool = False,
    names: tuple[str, ...] = OUTPUT_NAMES,
    sign: str = "recipe.json",
    flag: str = "--adopt-out",
) -> None:
    """Make sure ``out`` is curate's: new or empty (then marked), already marked, or adopted (``adopt``, or an
    output directory of an older curate: ``sign`` and only ``names``); else raise NotCurateOut naming it and
    the way out (``flag``)."""
    out = Path(out)
    if (out / MARKER).is_file():
        return
    entries = sorted(e.name for e in out.iterdir() if e.name not in LOCKS) if out.is_dir() else []
    legacy = sign in entries and all(is_output_name(e, names) for e in entries)
    if entries and not (adopt or legacy):
        shown = ", ".join(repr(e) for e in entries[:3]) + (" ..." if len(entries) > 3 else "")
        raise NotCurateOut(
            f"--out {out} is not empty ({shown}) and curate did not make it (no {MARKER} file): "
            "curate writes and removes files in its output directory; choose a new or empty "
            f"directory, or pass {flag} to let curate use this one"
        )
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic({"made_by": "curate", "adopted": bool(entries)}, out / MARKER)


@contextmanager
def hold_run_lock(out: Path, adopt: bool = False) -> Iterator[None]:
    """Hold the output directory's lock for the duration; raise ``RunLocked`` naming the holder's pid, and
    ``NotCurateOut`` for a directory that is not curate's (see ``claim_out``)."""
    out = Path(out)
    key = str(out.resolve())
    if key in _held:  # already ours (Pipeline.run holds it around Runner.run)
        yield
        return
    claim_out(out, adopt)
    path = out / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunLocked(
            f"another curate run (pid {holder}) is writing to {out}; wait for it to finish or choose another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[key] = fd
    try:
        yield
    finally:
        del _held[key]
        os.close(fd)  # releases the flock
