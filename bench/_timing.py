"""Timing shared by the benchmarks: interleaved rounds of CPU time, so ratios survive a noisy machine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def interleaved(fns: dict[str, Callable[[], Any]], rounds: int) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """CPU seconds of each call of each function over ``rounds`` rounds, and each function's last result.

    One untimed warm-up call each first (imports, JIT caches, lazy set-up are one-time costs). A round
    calls every function once, so load drift on a shared machine hits ours and the reference alike;
    process CPU time leaves out other processes' load. Take ``min`` of a list for the least disturbed
    measure (``timeit``'s rule). Only for single-process, single-threaded code: CPU time is per core.
    """
    results = {name: fn() for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.process_time()
            results[name] = fn()
            times[name].append(time.process_time() - t0)
    return times, results
