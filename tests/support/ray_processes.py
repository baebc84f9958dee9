"""Stop one test's own Ray cluster: the processes whose command line names its private Ray directory, and their
children (a job's driver), never another test's Ray (`ray stop --force` kills every Ray process on the machine)."""

from __future__ import annotations

import time

import psutil


def own_processes(marker: str) -> list[psutil.Process]:
    """Processes whose command line names ``marker`` (a test's private Ray directory), with their descendants."""
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in arg for arg in proc.info["cmdline"] or ()):
                found[proc.pid] = proc
                found.update({child.pid: child for child in proc.children(recursive=True)})
        except psutil.Error:
            continue
    found.pop(psutil.Process().pid, None)
    return list(found.values())


def stop_cluster(*markers: str) -> None:
    """SIGTERM, then SIGKILL after 10 s, every process of the clusters started under ``markers``."""
    for kill in (psutil.Process.terminate, psutil.Process.kill):
        procs = [p for m in markers for p in own_processes(m)]
        for proc in procs:
            try:
                kill(proc)
            except psutil.Error:
                pass
        psutil.wait_procs(procs, timeout=10)
        if not any(own_processes(m) for m in markers):
            return
    time.sleep(0.2)
