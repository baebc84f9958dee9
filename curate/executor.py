"""Where tasks run: an embedded or existing Ray cluster, or in-process (``workers: 0``, for debugging)."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent


class LocalExecutor:
    """Runs every task serially in this process, in order."""

    workers = 1

    def imap(self, fn: Callable[..., Any], items: Sequence[Any], *shared: Any) -> Iterator[tuple[int, Any]]:
        for i, item in enumerate(items):
            yield i, fn(item, *shared)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [fn(x) for x in items]

    def shutdown(self) -> None:
        pass


class RayExecutor:
    """Runs tasks as Ray tasks (1 CPU each). Uses ``RAY_ADDRESS`` when set, else starts a local Ray."""

    def __init__(self, workers: int, address: str | None = None):
        import ray

        self._ray = ray
        self._owned = False
        address = address or os.environ.get("RAY_ADDRESS")
        if not ray.is_initialized():
            env = {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT)] + [p for p in sys.path if p])}
            kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=True, configure_logging=False)
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=max(1, workers), runtime_env={"env_vars": env}, **kwargs)
                self._owned = True
        self.workers = int(ray.cluster_resources().get("CPU", workers))
        self._remote = ray.remote(num_cpus=1, max_retries=3)(_call)

    def imap(self, fn: Callable[..., Any], items: Sequence[Any], *shared: Any) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(item, *shared))`` as tasks complete (any order)."""
        ray = self._ray
        shared_refs = [ray.put(s) for s in shared]
        fn_ref = ray.put(fn)
        refs = {self._remote.remote(fn_ref, item, *shared_refs): i for i, item in enumerate(items)}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield refs[ref], ray.get(ref)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        out: list[Any] = [None] * len(items)
        for i, r in self.imap(fn, items):
            out[i] = r
        return out

    def shutdown(self) -> None:
        if self._owned:
            self._ray.shutdown()


def _call(fn: Callable[..., Any], item: Any, *shared: Any) -> Any:
    return fn(item, *shared)


def make_executor(workers: int) -> LocalExecutor | RayExecutor:
    """``workers == 0``: in-process; otherwise Ray with that many CPUs (or the cluster at RAY_ADDRESS)."""
    if workers == 0 and not os.environ.get("RAY_ADDRESS"):
        return LocalExecutor()
    return RayExecutor(workers)
