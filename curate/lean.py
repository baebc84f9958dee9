"""Keep a process to the modules its run uses, and to the memory its live batches use.

pyarrow imports pandas (~43 MB of PSS, 0.2-0.4 s of CPU) the first time it converts Python objects, only
to ask whether they are pandas objects. Curate never hands pyarrow a pandas object, so each process
settles that probe once with pandas hidden; an explicit ``to_pandas``/``from_pandas`` still imports pandas
(pyarrow retries the import when a caller needs it). ``hidden`` is the general form: imports that fail
within a block as if the modules were not installed (``executor.start_lean_head`` uses it on Ray's probe for
its dashboard libraries).
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class _Hidden:
    """A meta-path finder under which importing ``names`` (and their submodules) fails as if they were
    not installed."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if any(name == n or name.startswith(n + ".") for n in self.names):
            raise ImportError(f"{name} hidden (curate.lean)")
        return None


@contextmanager
def hidden(*names: str) -> Iterator[None]:
    """Within the block, ``import`` of ``names`` fails as if they were not installed (modules already
    loaded stay loaded)."""
    finder = _Hidden(*names)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


@functools.lru_cache(maxsize=1)
def arrow_without_pandas() -> None:
    """Make pyarrow's one-time pandas probe find no pandas (once per process; a no-op once pandas is loaded)."""
    import pyarrow as pa

    if "pandas" in sys.modules:
        return
    with hidden("pandas"):
        pa.array([""])


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None on other C libraries)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> None:
    """Give the memory that freed batches leave in the allocators back to the system.

    Neither Arrow's pool (mimalloc) nor glibc's malloc returns freed pages on its own soon: after the
    extract, langid and heuristics steps of the 1,800-page sample WARC the process held 283 MB of
    anonymous memory, 96 MB of it live (Arrow's ``release_unused`` freed 64 MB, ``malloc_trim`` 123 MB).
    Called once per batch and per task, so what a process holds is its modules and one batch.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


# Allocator settings for the processes of a run (a user's own value of each wins). Arrow's mimalloc pool keeps
# a task's freed buffers mapped until it decides to purge them, and glibc gives a multi-threaded process (a Ray
# worker's core threads) an arena per thread: with Arrow on the system allocator, two arenas and
# ``release_freed_memory`` after each batch, the sample WARC's peak summed PSS on 2 Ray workers fell from
# 564-581 to 515-521 MB and in-process from 215-218 to 190-198 MB (measured), CPU within the rounds' scatter.
# glibc also raises its mmap threshold to the size of each large block freed (up to 32 MB), after which a task's
# multi-MB buffers (an HTML batch, a hashing block) come from the heap and stay there as fragments the task's
# later allocations cannot reuse; a fixed 1 MiB threshold maps each of them on its own and unmaps it when
# freed: peak summed PSS on 2 Ray workers 522-527 MB in 7 runs against 532-553 MB in 12 (sample WARC), at
# ~0.5 s more system CPU per 16 s run (page faults of the fresh mappings).
ALLOCATOR_ENV = {"ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "1048576"}
_MALLOPT = {"MALLOC_ARENA_MAX": -8, "MALLOC_MMAP_THRESHOLD_": -3}  # glibc's mallopt parameter numbers


def allocator_env() -> dict[str, str]:
    """``ALLOCATOR_ENV`` with any setting this process's environment already has: for processes it starts."""
    return {k: os.environ.get(k, v) for k, v in ALLOCATOR_ENV.items()}


def lean_allocators() -> None:
    """Apply ``allocator_env`` to this process (before pyarrow is imported: Arrow reads its pool once) and to
    the processes it starts."""
    os.environ.update(allocator_env())
    for name, param in _MALLOPT.items():  # glibc reads its environment at start-up only
        try:
            ctypes.CDLL(None).mallopt(param, int(os.environ[name]))
        except (OSError, AttributeError, ValueError):
            pass  # not glibc, or a user's value that is not a number: the allocator keeps its own
