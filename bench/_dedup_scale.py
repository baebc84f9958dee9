"""Dedup at scale on Ray: CPU per 1,000 documents, driver peak RSS and largest task peak RSS per pass.

Documents come from ``bench._planted.scale_doc`` (real chunks, shuffled words; 5% exact and 5% near
copies), written by Ray tasks in parts of ``PART_DOCS``. Each pass (exact, near: fit, then apply over
every part as tasks) runs in a fresh embedded Ray with ``workers`` CPUs while a thread samples, every
``SAMPLE_S``, the RSS of this driver and of every Ray worker process it started (psutil: Ray's raylet
reaps workers, so ``/usr/bin/time`` under-reports them). A worker's peak is the peak of the largest task
it ran. CPU is the driver's plus all of its workers' user + system time.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq

from bench._planted import real_chunks, scale_doc
from curate.dedup.exact import ExactDedupStage
from curate.dedup.minhash import MinHashDedupStage
from curate.executor import RayExecutor
from curate.schema import docs_table
from curate.stage import FitContext

PART_DOCS = 10_000
SAMPLE_S = 0.1


def _write_part(i: int, n_docs: int, out: str) -> int:
    chunks = real_chunks(60, 200)  # ~1 KB documents
    lo, hi = i * PART_DOCS, min(n_docs, (i + 1) * PART_DOCS)
    rows = []
    for j in range(lo, hi):
        doc_id, text = scale_doc(j, chunks)
        rows.append({"id": doc_id, "source": "bench", "kind": "web", "url": None, "text": text, "meta": {}})
    pq.write_table(docs_table(rows), Path(out) / f"part-{i:05d}.parquet")
    return hi - lo


def _apply_part(path: Path, stage: Any, state: Any, out: str) -> int:
    res = stage.apply(pq.read_table(path), state)
    pq.write_table(res.kept, Path(out) / path.name)
    return res.dropped.num_rows


def _workers(me: psutil.Process) -> list[psutil.Process]:
    out = []
    for p in me.children(recursive=True):
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        if cmd and (cmd[0].startswith("ray::") or any("default_worker.py" in c for c in cmd)):
            out.append(p)
    return out


class Sampler(threading.Thread):
    """Peak RSS of the driver and of each Ray worker, and the workers' CPU time, until ``stop``."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.me = psutil.Process()
        self.driver_peak = 0
        self.worker_peak: dict[int, int] = {}
        self.worker_cpu: dict[int, float] = {}
        self._stop_evt = threading.Event()

    def sample(self) -> None:
        self.driver_peak = max(self.driver_peak, self.me.memory_info().rss)
        for p in _workers(self.me):
            try:
                self.worker_peak[p.pid] = max(self.worker_peak.get(p.pid, 0), p.memory_info().rss)
                t = p.cpu_times()
                self.worker_cpu[p.pid] = t.user + t.system
            except psutil.Error:
                pass

    def run(self) -> None:
        while not self._stop_evt.wait(SAMPLE_S):
            self.sample()

    def stop(self) -> None:
        self._stop_evt.set()
        self.join()
        self.sample()


def run_pass(name: str, stage: Any, parts: list[Path], work: Path, workers: int) -> dict:
    """One pass (fit + apply) in a fresh Ray; returns wall, CPU and peak RSS figures."""
    ex = RayExecutor(workers)
    try:
        time.sleep(1.0)  # let the prestarted workers settle before the driver CPU baseline
        sampler = Sampler()
        sampler.start()
        cpu0 = sum(psutil.Process().cpu_times()[:2])
        wall0 = time.time()
        ctx = FitContext(parts, work / name, seed=1, map_fn=ex.map, log=lambda m: None)
        (work / name).mkdir(parents=True, exist_ok=True)
        state = stage.fit(ctx)
        out = work / f"{name}_out"
        out.mkdir(parents=True, exist_ok=True)
        removed = sum(ex.map(functools.partial(_apply_part, stage=stage, state=state, out=str(out)), parts))
        wall = time.time() - wall0
        sampler.stop()
        cpu = sum(psutil.Process().cpu_times()[:2]) - cpu0 + sum(sampler.worker_cpu.values())
    finally:
        ex.shutdown()
    return {
        "pass": name,
        "wall_s": wall,
        "cpu_s": cpu,
        "driver_peak_mb": sampler.driver_peak / 2**20,
        "task_peak_mb": max(sampler.worker_peak.values(), default=0) / 2**20,
        "removed": removed,
        "fit": state["summary"],
    }


def scale(sizes: list[int], workers: int = 2) -> list[dict]:
    rows = []
    for n in sizes:
        tmp = Path(tempfile.mkdtemp(prefix="curate-bench-dedup-"))
        try:
            data = tmp / "parts"
            data.mkdir()
            ex = RayExecutor(workers)
            try:
                n_parts = -(-n // PART_DOCS)
                ex.map(functools.partial(_write_part, n_docs=n, out=str(data)), list(range(n_parts)))
            finally:
                ex.shutdown()
            parts = sorted(data.glob("part-*.parquet"))
            for name, stage in (("exact", ExactDedupStage()), ("near", MinHashDedupStage())):
                r = run_pass(name, stage, parts, tmp, workers)
                r["docs"] = n
                rows.append(r)
                print(
                    f"  {n:>9,d} {name:6s} wall {r['wall_s']:7.1f} s  cpu {r['cpu_s']:8.1f} s  "
                    f"cpu/1k docs {1000 * r['cpu_s'] / n:6.3f} s  driver peak {r['driver_peak_mb']:6.1f} MB  "
                    f"largest task peak {r['task_peak_mb']:6.1f} MB  removed {r['removed']:,d}",
                    flush=True,
                )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def report(rows: list[dict]) -> None:
    sizes = sorted({r["docs"] for r in rows})
    if len(sizes) < 2:
        return
    lo, hi = sizes[0], sizes[-1]
    for name in ("exact", "near"):
        a = next(r for r in rows if r["docs"] == lo and r["pass"] == name)
        b = next(r for r in rows if r["docs"] == hi and r["pass"] == name)
        print(
            f"  {name}: {lo:,d} -> {hi:,d} docs: driver peak {b['driver_peak_mb'] - a['driver_peak_mb']:+.1f} MB, "
            f"largest task peak x{b['task_peak_mb'] / a['task_peak_mb']:.2f}, "
            f"cpu/1k docs {1000 * a['cpu_s'] / lo:.3f} -> {1000 * b['cpu_s'] / hi:.3f} s"
        )
