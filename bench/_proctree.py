"""CPU seconds and peak memory of a command's whole process tree (the command, its children and, for an
embedded Ray, the raylet, GCS, agents and workers it starts), sampled with psutil.

Peak memory is the largest sum of PSS (proportional set size: shared pages split among the processes that
map them, so a tree's sum is not inflated by shared libraries) over the sampled moments.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import psutil


@dataclass
class TreeUsage:
    cpu_s: float  # user + system CPU of the tree (see run_measured)
    peak_pss_mb: float
    wall_s: float
    returncode: int
    peak_by_role: dict[str, float] = field(default_factory=dict)  # MB per role() at the moment of the peak


# process roles by a fragment of their command line (Ray names its workers ``ray::<task or IDLE>``)
_ROLES = (
    ("gcs_server", "ray gcs"),
    ("/raylet", "ray raylet"),
    ("ray::DashboardAgent", "ray dashboard agent"),
    ("ray::RuntimeEnvAgent", "ray runtime-env agent"),
    ("dashboard/dashboard.py", "ray dashboard"),
    ("log_monitor.py", "ray log monitor"),
    ("monitor.py", "ray monitor"),
    ("ray_process_reaper", "ray reaper"),
    ("ray::", "ray worker"),
)


def role(cmdline: Sequence[str], is_root: bool) -> str:
    """What a process of the tree is, for the per-role breakdown (``driver`` for the command itself)."""
    if is_root:
        return "driver"
    if any(a.endswith("ray_agent_standin.sh") for a in cmdline[:2]):  # the raylet's command line names it too
        return "ray agent stand-in"
    joined = " ".join(cmdline)
    return next((name for frag, name in _ROLES if frag in joined), "other")


TREE_LOOKUP_S = 0.5


def run_measured(cmd: Sequence[str], interval_s: float = 0.1, pss: bool = True, **popen) -> TreeUsage:
    """Run ``cmd`` to completion, sampling its process tree every ``interval_s`` seconds. Reading each
    process's PSS (its smaps) costs the sampler ~15% of a core, which a run that keeps every core busy pays in
    wall time and a run that leaves one idle does not: ``pss=False`` samples CPU only (``peak_pss_mb`` 0), for
    comparing wall times. Finding the tree's processes reads every process's stat file (1-2 ms a sample,
    0.25 CPU-s of a 10-s run at 0.1 s, which the same asymmetry makes count): with ``pss=False`` the tree is
    looked up every ``TREE_LOOKUP_S`` and its known processes' CPU read every sample (a process is found up
    to that late; its CPU is cumulative, so only one that ends sooner is missed)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(list(cmd), **popen)
    root = psutil.Process(proc.pid)
    cpu: dict[tuple[int, float], float] = {}  # (pid, create time) -> last CPU seen
    peak = 0.0
    peak_by_role: Counter[str] = Counter()
    procs: list[psutil.Process] = []
    looked_up = -float("inf")
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        total = 0.0
        by_role: Counter[str] = Counter()
        if pss or time.monotonic() - looked_up >= TREE_LOOKUP_S:  # PSS sums need every process of the moment
            try:
                procs, looked_up = [root] + root.children(recursive=True), time.monotonic()
            except psutil.NoSuchProcess:
                break
        for p in procs:
            try:
                with p.oneshot():
                    if pss:
                        mem = p.memory_full_info().pss
                        total += mem
                        by_role[role(p.cmdline(), p.pid == proc.pid)] += mem / 1e6
                    t = p.cpu_times()
                    cpu[(p.pid, p.create_time())] = t.user + t.system
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        if total > peak:
            peak, peak_by_role = total, by_role
        time.sleep(interval_s)
    proc.returncode = os.waitstatus_to_exitcode(status)
    # the kernel's account of the root and every descendant it reaped, complete to the exit; the samples
    # (which miss the last interval) also count processes that outlive or escape the root's reaping
    reaped = ru.ru_utime + ru.ru_stime
    sampled = sum(cpu.values())
    return TreeUsage(max(reaped, sampled), peak / 1e6, time.monotonic() - t0, proc.returncode, dict(peak_by_role))
