"""Scale: how the runner's costs grow with the number of documents (``make bench-scale``).

For each N (``--docs=100000,1000000``) it builds N documents from real text (paragraphs of the test
corpus' web, wiki and book texts and the sample corpus' books, joined in runs of 2-12 by a seeded
generator), then runs the filter stages (langid, clean_lines, heuristics, quality), mix and tokenize
with ``--workers`` (2) as ``python -m curate run`` in a subprocess, and prints for each N:

- CPU per 1,000 documents entering each stage, in two parts and in all: the CPU of its tasks (apply, and
  the per-part passes of its fit and finalize: the work that visits documents) and the CPU in the driver
  and the helper processes the driver spawns and reaps meanwhile (a fit's merge of bounded summaries;
  quality's fastText training on its bounded sample). The first is the per-document cost and should be
  flat in N; the second is bounded by configuration, not by N, so per document it falls as N grows, and
  it is also printed in seconds. Figures are as the runner records them in ``summary.json``; the total is
  cross-checked against psutil samples of every Ray worker process (Ray's raylet reaps its workers, so
  ``/usr/bin/time`` on the driver under-reports);
- the driver's peak RSS (``VmHWM``) and CPU, and its peak RSS during each stage;
- the largest peak RSS of any Ray worker process (a worker runs one task at a time);
- bytes written per input byte (the run folder against the generated JSONL), by top-level folder.

With two or more N it prints the growth between the smallest and the largest (``--reuse``: take an N's
figures from its ``result.json`` in ``--dir`` when there is one, instead of running it again). The tokenizer is trained
once per N on a 2 MB sample before the timed run (a fixed cost that would hide the per-document one).
Generated inputs are cached in ``--dir`` (default ``$TMPDIR/curate-bench-scale``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
GEN_VERSION = 1
STAGES = ["read", "langid", "clean_lines", "heuristics", "quality", "mix", "tokenize"]


def _arg(argv: list[str], name: str, default: str) -> str:
    return next((a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")), default)


def paragraphs(corpus: Path, sample: Path) -> dict[str, list[str]]:
    """Real paragraphs by source: ``web`` (web-text and wiki documents of the test corpus), ``books``."""
    web: list[str] = []
    for line in (corpus / "dedup" / "docs.jsonl").open(encoding="utf-8"):
        web += [p.strip() for p in json.loads(line)["text"].split("\n\n") if len(p.strip()) > 40]
    books: list[str] = []
    files = sorted((corpus / "books").glob("*.txt")) + sorted((sample / "books").glob("*.txt"))
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
        books += [p.strip() for p in text.split("\n\n") if len(p.strip()) > 40]
    return {"web": web, "books": books}


def generate(n: int, out: Path, corpus: Path, sample: Path) -> dict[str, Path]:
    """N documents (70% web, 30% books), each 2-12 consecutive real paragraphs from a seeded position."""
    files = {s: out / f"{s}.jsonl" for s in ("web", "books")}
    stamp = out / "generated.json"
    want = {"n": n, "version": GEN_VERSION}
    if stamp.exists() and json.loads(stamp.read_text()) == want and all(f.exists() for f in files.values()):
        return files
    out.mkdir(parents=True, exist_ok=True)
    pool = paragraphs(corpus, sample)
    rng = random.Random(20261127)
    handles = {s: f.open("w", encoding="utf-8") for s, f in files.items()}
    for i in range(n):
        src = "web" if rng.random() < 0.7 else "books"
        paras = pool[src]
        k = rng.randint(2, 12)
        start = rng.randrange(len(paras) - k)
        text = "\n\n".join(paras[start : start + k])
        handles[src].write(json.dumps({"id": f"{src}-{i:08d}", "text": text}, ensure_ascii=False) + "\n")
    for h in handles.values():
        h.close()
    stamp.write_text(json.dumps(want))
    return files


def train_tokenizer(files: dict[str, Path], out: Path) -> Path:
    from curate.tokenizer.train import doc_lines, train_sentencepiece

    model = out / "tokenizer" / "tokenizer.model"
    if model.exists():
        return model
    lines: list[str] = []
    for f in files.values():
        with f.open(encoding="utf-8") as fh:
            chars = 0
            for line in fh:
                ls = doc_lines(json.loads(line)["text"])
                lines += ls
                chars += sum(map(len, ls))
                if chars > 1_000_000:
                    break
    return Path(train_sentencepiece(lines, out / "tokenizer", 8000, "<|endoftext|>", [], True))


def recipe(files: dict[str, Path], model: Path, workers: int) -> dict:
    opts = {"id_field": "id", "split_bytes": 32 << 20}
    return {
        "name": "scale",
        "seed": 1,
        "workers": workers,
        "sources": [
            {"name": s, "kind": s, "format": "jsonl", "paths": [str(f)], "options": opts} for s, f in files.items()
        ],
        "stages": [
            {"langid": {"languages": ["en"]}},
            {"clean_lines": {}, "only": ["web"]},
            {"heuristics": {"c4": {"curly_bracket": False}}, "only": ["web"]},
            {"quality": {"positives": ["books"], "negatives": ["web"], "target_keep_rate": 0.5}, "only": ["web"]},
            {"mix": {"weights": {"web": 0.7, "books": 0.3}}},
            {"tokenize": {"model": str(model)}},
        ],
    }


class Sampler(threading.Thread):
    """Every ``period`` s: the driver's VmHWM, RSS and CPU, every Ray worker's VmHWM and CPU, and the VmHWM of
    the driver's own helper processes (the quality stage trains fastText in a spawned process; the runner
    records their CPU, as ``fit_helper_cpu_s``)."""

    def __init__(self, pid: int, period: float = 0.5):
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.period = period
        self.stop = threading.Event()
        self.driver_hwm = self.driver_cpu = 0.0
        self.driver_rss: list[tuple[float, int]] = []
        self.workers: dict[int, dict] = {}
        self.worker_rss: list[tuple[float, int]] = []  # (time, largest worker RSS at that sample)
        self.helper_hwm = 0

    @staticmethod
    def _hwm(p: psutil.Process) -> int:
        try:
            for line in open(f"/proc/{p.pid}/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                ct = self.proc.cpu_times()
                self.driver_cpu = ct.user + ct.system
                self.driver_hwm = max(self.driver_hwm, self._hwm(self.proc))
                now = time.time()
                self.driver_rss.append((now, self.proc.memory_info().rss))
                largest = 0
                for c in self.proc.children(recursive=True):
                    try:
                        cmd = c.cmdline()
                        if c.ppid() == self.proc.pid and any("multiprocessing" in a for a in cmd):
                            self.helper_hwm = max(self.helper_hwm, self._hwm(c))
                        if not any(a.startswith("ray::") for a in cmd):
                            continue
                        ct = c.cpu_times()
                        w = self.workers.setdefault(c.pid, {"hwm": 0, "cpu": 0.0})
                        w["hwm"] = max(w["hwm"], self._hwm(c))
                        w["cpu"] = ct.user + ct.system
                        largest = max(largest, c.memory_info().rss)
                    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                        pass
                self.worker_rss.append((now, largest))
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                return
            time.sleep(self.period)


def du(path: Path) -> int:
    """Bytes of the regular files under ``path``; links are not followed (``shards`` links to the published
    ``shards-<digest>/``, which is counted once, under its own name)."""
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def run_one(n: int, base: Path, workers: int, corpus: Path, sample: Path) -> dict:
    d = base / f"n{n}"
    t0 = time.time()
    files = generate(n, d, corpus, sample)
    model = train_tokenizer(files, d)
    mb = sum(f.stat().st_size for f in files.values()) / 1e6
    print(f"  N={n:,}: input ready in {time.time() - t0:.0f}s ({mb:,.0f} MB JSONL)", flush=True)
    rfile = d / "recipe.yaml"
    rfile.write_text(json.dumps(recipe(files, model, workers), indent=1))
    out = d / "run"
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(REPO), CURATE_PROGRESS_S="30")
    log = (d / "run.log").open("w")
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "curate", "run", str(rfile), "--out", str(out)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    sampler = Sampler(proc.pid)
    sampler.start()
    rc = proc.wait()
    sampler.stop.set()
    sampler.join()
    wall = time.time() - t0
    if rc != 0:
        raise SystemExit(f"curate run failed (exit {rc}); see {d / 'run.log'}")
    summary = json.loads((out / "summary.json").read_text())
    stages: dict[str, dict] = {}
    for st in summary["stages"]:
        split = {
            k: st.get(k) or 0.0
            for k in (
                "cpu_s",
                "fit_cpu_s",
                "fit_driver_cpu_s",
                "fit_helper_cpu_s",
                "finalize_cpu_s",
                "finalize_driver_cpu_s",
                "finalize_helper_cpu_s",
            )
        }
        cpu = sum(split.values())
        tasks = split["cpu_s"] + split["fit_cpu_s"] + split["finalize_cpu_s"]
        peak = max((r for t, r in sampler.driver_rss if st["t_start"] <= t <= st["t_end"]), default=0)
        task = max((r for t, r in sampler.worker_rss if st["t_start"] <= t <= st["t_end"]), default=0)
        stages[st["stage"]] = {
            "in": st["in"],
            "cpu_s": cpu,
            "cpu_per_1k": 1000 * cpu / max(1, st["in"]),
            "task_cpu_s": tasks,
            "driver_side_cpu_s": cpu - tasks,
            "driver_rss_peak": peak,
            "task_rss_peak": task,
            "split": split,
        }
    input_bytes = sum(f.stat().st_size for f in files.values())
    # by top-level folder, links skipped; the published shards-<digest>/ is shown as "shards"
    folders = {p.name.split("-")[0]: du(p) for p in out.iterdir() if p.is_dir() and not p.is_symlink()}
    result = {
        "n": n,
        "wall_s": wall,
        "input_bytes": input_bytes,
        "stages": stages,
        "driver_hwm": sampler.driver_hwm,
        "driver_cpu_s": sampler.driver_cpu,
        "helper_hwm": sampler.helper_hwm,
        "helper_cpu_s": sum(
            s["split"]["fit_helper_cpu_s"] + s["split"]["finalize_helper_cpu_s"] for s in stages.values()
        ),
        "task_hwm": max((w["hwm"] for w in sampler.workers.values()), default=0),
        "worker_cpu_s": sum(w["cpu"] for w in sampler.workers.values()),
        "in_task_cpu_s": sum(s["cpu_s"] for s in stages.values()),
        "run_bytes": du(out),
        "folders": folders,
    }
    (d / "result.json").write_text(json.dumps(result, indent=1))
    return result


def _parts(s: dict) -> tuple[float, float]:
    """``(CPU s in the stage's tasks, CPU s in the driver and its helpers)``."""
    if "task_cpu_s" in s:
        return s["task_cpu_s"], s["driver_side_cpu_s"]
    sp = s["split"]  # a result.json written before the two were stored
    tasks = sp["cpu_s"] + sp["fit_cpu_s"] + sp["finalize_cpu_s"]
    return tasks, s["cpu_s"] - tasks


def show(r: dict) -> None:
    n = r["n"]
    print(f"N = {n:,} documents, {r['input_bytes'] / 1e6:,.0f} MB input, wall {r['wall_s']:.0f} s")
    print(
        f"  {'stage':<12}{'docs in':>10}{'CPU s':>8}{'per 1k':>8}{'tasks s':>9}{'per 1k':>8}{'driver+helpers s':>18}"
        f"{'driver RSS MB':>15}{'task RSS MB':>13}"
    )
    for name, s in r["stages"].items():  # RSS: the largest sample while the stage's segment ran (fused: shared)
        tasks, side = _parts(s)
        print(
            f"  {name:<12}{s['in']:>10,}{s['cpu_s']:>8.1f}{s['cpu_per_1k']:>8.3f}{tasks:>9.1f}"
            f"{1000 * tasks / max(1, s['in']):>8.3f}{side:>18.1f}"
            f"{s['driver_rss_peak'] / 1e6:>15.0f}{s.get('task_rss_peak', 0) / 1e6:>13.0f}"
        )
    print(
        f"  driver: peak RSS {r['driver_hwm'] / 1e6:,.0f} MB, CPU {r['driver_cpu_s']:.1f} s "
        f"({1e6 * r['driver_cpu_s'] / n:,.0f} us per document)"
    )
    print(
        f"  driver's helper processes (quality's fastText training): CPU {r['helper_cpu_s']:.1f} s, "
        f"peak RSS {r['helper_hwm'] / 1e6:,.0f} MB"
    )
    print(
        f"  largest task (Ray worker) peak RSS {r['task_hwm'] / 1e6:,.0f} MB; worker CPU by psutil "
        f"{r['worker_cpu_s']:.1f} s; recorded by the runner (tasks + driver fit/finalize) plus the helpers "
        f"{r['in_task_cpu_s']:.1f} s"
    )
    parts = ", ".join(f"{k} {v / r['input_bytes']:.2f}" for k, v in sorted(r["folders"].items()) if v)
    print(f"  bytes written per input byte: {r['run_bytes'] / r['input_bytes']:.2f} ({parts})")


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def compare(a: dict, b: dict) -> bool:
    """Print the growth from ``a`` to ``b`` against the targets; True when every target holds."""
    grow = b["n"] / a["n"]
    print(f"growth from N={a['n']:,} to N={b['n']:,} ({grow:g}x documents):")
    checks = []

    def check(ok: bool, text: str) -> None:
        checks.append(ok)
        print(f"  [{_verdict(ok)}] {text}")

    rss = (b["driver_hwm"] - a["driver_hwm"]) / 1e6
    check(
        rss < 50,
        f"driver peak RSS {a['driver_hwm'] / 1e6:,.0f} -> {b['driver_hwm'] / 1e6:,.0f} MB "
        f"({rss:+,.0f} MB; target < +50 MB)",
    )
    da, db = (1e6 * r["driver_cpu_s"] / r["n"] for r in (a, b))
    check(db <= da, f"driver CPU per document {da:,.0f} -> {db:,.0f} us (target: no growth)")
    ratio = b["task_hwm"] / max(1, a["task_hwm"])
    check(
        ratio <= 2,
        f"largest task peak RSS {a['task_hwm'] / 1e6:,.0f} -> {b['task_hwm'] / 1e6:,.0f} MB "
        f"({ratio:.2f}x; target <= 2x)",
    )
    print(
        "  CPU per 1,000 documents entering each stage, in its tasks (the per-document work; target within "
        "+-20%), and in all with the driver's and its helpers' share:"
    )
    for name in a["stages"]:
        if name not in b["stages"]:
            continue
        sa, sb = a["stages"][name], b["stages"][name]
        (ta, fa), (tb, fb) = _parts(sa), _parts(sb)
        x, y = 1000 * ta / max(1, sa["in"]), 1000 * tb / max(1, sb["in"])
        change = (y / x - 1) * 100 if x else 0.0
        check(
            abs(change) <= 20,
            f"{name:<12} tasks {x:.3f} -> {y:.3f} s ({change:+.0f}%); in all "
            f"{sa['cpu_per_1k']:.3f} -> {sb['cpu_per_1k']:.3f} s; driver and helpers "
            f"{fa:.1f} -> {fb:.1f} s",
        )
    folder = b["run_bytes"] / b["input_bytes"]
    check(folder <= 1.5, f"run folder at N={b['n']:,}: {folder:.2f}x the input (target <= 1.5x)")
    print(f"  {sum(checks)} of {len(checks)} targets hold")
    return all(checks)


def main(argv: list[str]) -> None:
    docs = [int(float(x)) for x in _arg(argv, "docs", "100000,1000000").split(",")]
    workers = int(_arg(argv, "workers", "2"))
    base = Path(_arg(argv, "dir", str(Path(tempfile.gettempdir()) / "curate-bench-scale")))
    corpus = Path(os.environ.get("CURATE_TEST_DATA", REPO.parent / "shared" / "corpus"))
    from curate.io import sample_dir

    sample = Path(os.environ.get("CURATE_DATA") or sample_dir())
    results = []
    for n in docs:
        saved = base / f"n{n}" / "result.json"
        if "--reuse" in argv and saved.exists():  # compare with a size measured before, not re-run
            r = json.loads(saved.read_text())
            print(f"  N={n:,}: reusing {saved}")
        else:
            r = run_one(n, base, workers, corpus, sample)
        show(r)
        results.append(r)
    if len(results) > 1 and not compare(results[0], results[-1]):
        raise SystemExit(1)
