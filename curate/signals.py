"""SIGTERM stops a run the way Ctrl-C does: ``Terminated`` (a ``KeyboardInterrupt``) is raised in the main
thread, so the executor shuts its workers down, the CLI prints one line and exits 143, and a re-run resumes.

Without this, SIGTERM killed an in-process run outright (no message), and under Ray the handlers that
``ray.init`` installs took over: its node handler kills the Ray processes under the running tasks and exits 1,
and the native failure-signal handler of Ray's core worker prints a crash dump on stderr.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM)."""


@contextmanager
def sigterm_kept() -> Iterator[None]:
    """Around a library call that installs its own SIGTERM handling (``ray.init``): afterwards SIGTERM is
    handled as before it (re-installing also replaces a native handler set underneath Python)."""
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    except SystemExit as e:
        # ray.init's first handler is ``sys.exit(signum)``: a SIGTERM that lands inside the call (the embedded
        # head connects when the first pass starts, so a stop can come then) goes to the handler it displaced
        if not (main and e.code == signal.SIGTERM and callable(before)):
            raise
        before(signal.SIGTERM, None)
        raise
    finally:
        if main and before is not None:
            signal.signal(signal.SIGTERM, before)


@dataclass
class Stop:
    """What ``sigterm_as_interrupt`` saw: ``terminated`` once SIGTERM arrived (Ray's ``wait`` and ``get``
    turn any exception a signal handler raises into a plain ``KeyboardInterrupt``, so the type alone does not
    tell SIGTERM from Ctrl-C)."""

    terminated: bool = False


@contextmanager
def sigterm_as_interrupt() -> Iterator[Stop]:
    """Inside: SIGTERM raises ``Terminated`` (once: a second one while stopping is ignored) and is recorded on
    the yielded ``Stop``; after, SIGTERM is handled as before. Main thread only (elsewhere nothing changes)."""
    stop = Stop()

    def handler(signum: int, frame: Any) -> None:
        if not stop.terminated:
            stop.terminated = True
            raise Terminated()

    with sigterm_kept():
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, handler)
        yield stop
