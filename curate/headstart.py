"""The embedded Ray head starts in the background while the driver plans the run.

Starting the lean head (``curate.executor.start_lean_head``: GCS, raylet and the agents the raylet waits for)
takes 1.5-3.5 s of mostly waiting on those processes, on the 2-core machine; planning (stages built, input
ranges cut, the plan logged) needs no Ray. ``start_executor`` therefore returns an executor whose head is
already starting on a thread and which connects (``ray.init``, on the calling thread: Ray installs its signal
handlers there) at the first pass that needs workers. Outputs do not change: only when Ray is ready does.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from curate.executor import (
    DASHBOARD_ENV,
    REPO_ROOT,
    Executor,
    RayExecutor,
    capped_workers,
    make_executor,
    start_lean_head,
    stop_lean_head,
)
from curate.signals import sigterm_kept


class _HeadThread:
    """``start_lean_head`` on a daemon thread that lives as long as the head: Ray ties its processes to the
    thread that started them (Linux's parent-death signal follows the thread), so the thread that starts them
    stays until ``stop``. ``node()`` waits for the head and re-raises what starting it raised."""

    def __init__(self, cpus: int):
        env = {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT)] + [p for p in sys.path if p])}
        self._node: Any = None
        self._error: BaseException | None = None
        self._started, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, args=(cpus, env), name="curate-ray-head", daemon=True)
        self._thread.start()

    def _run(self, cpus: int, env: dict[str, str]) -> None:
        try:
            self._node = start_lean_head(cpus, env)
        except BaseException as e:  # noqa: BLE001 - handed to the thread that waits for the head
            self._error = e
        self._started.set()
        self._stop.wait()
        if self._node is not None:
            stop_lean_head(self._node)

    def node(self) -> Any:
        self._started.wait()
        if self._error is not None:
            raise self._error
        return self._node

    def stop(self) -> None:
        """Stop the head (its processes would otherwise outlive the run) and wait until it has stopped."""
        self._stop.set()
        self._thread.join()


class StartingExecutor:
    """A ``RayExecutor`` on an embedded head that is starting: ``workers`` is known at once (the head gets that
    many CPUs); the first use of anything else (``map``, ``imap``, ``task_cpu_s``) waits for the head and
    connects."""

    def __init__(self, workers: int, log: Callable[[str], None] | None = None):
        self.workers = max(1, capped_workers(workers, log))
        self._head = _HeadThread(self.workers)
        self._ex: Executor | None = None

    def _ready(self) -> Executor:
        if self._ex is None:
            try:
                node = self._head.node()
                with sigterm_kept():  # ray.init installs SIGTERM handlers of its own (see curate.signals)
                    self._ex = RayExecutor(self.workers, head=node, stop_head=self._head.stop)
            except BaseException:
                self._head.stop()
                raise
            self.workers = self._ex.workers
        return self._ex

    def connect(self) -> None:
        """Wait for the head and connect: the runner calls this before it says a pass's tasks are running, so
        a SIGTERM from then on meets curate's handler, not the ones ``ray.init`` has in place while it runs."""
        self._ready()

    def __getattr__(self, name: str) -> Any:
        """``map``, ``imap`` and ``task_cpu_s`` (``curate.executor.Executor``): the connected executor's."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._ready(), name)

    def shutdown(self) -> None:
        if self._ex is not None:
            self._ex.shutdown()  # stops the head too, once Ray is shut down
        else:
            self._head.stop()


def start_executor(workers: int, log: Callable[[str], None] | None = None) -> Executor:
    """``make_executor``, except that an embedded lean head (no ``RAY_ADDRESS``, no ``--dashboard``) starts on
    a thread now and is joined when the first pass runs."""
    attached = "ray" in sys.modules and sys.modules["ray"].is_initialized()  # a caller's own ray.init
    if workers == 0 or attached or os.environ.get("RAY_ADDRESS") or os.environ.get(DASHBOARD_ENV):
        return make_executor(workers, log)
    return StartingExecutor(workers, log)
