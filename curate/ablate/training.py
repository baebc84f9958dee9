"""Proxy training of every variant and seed with the bundled trainer (in parallel worker processes on CPU)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from curate.ablate.keys import code_fingerprint, sha
from curate.ablate.settings import AblateConfig
from curate.io import read_json, write_json_atomic
from curate.partio import file_sha256


def train_one(job: dict[str, Any]) -> dict[str, Any]:
    """One training run (a task: runs in a worker process when several run at once); writes metrics.json."""
    from curate.trainer.train import train

    d = Path(job["dir"])
    d.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(d / "train.log", "w", encoding="utf-8") as lf:
        hist = train(
            job["manifest"],
            job["steps"],
            config=job["config"],
            device=job["device"],
            out=d,
            seed=job["seed"],
            eval_every=job["eval_every"],
            cpu_threads=job["threads"],
            eval_files=job["eval_files"],
            eval_tokens=job["eval_tokens"],
            schedule=job["schedule"],
            log=lambda s: print(s, file=lf, flush=True),
        )
    hist = json.loads(json.dumps(hist, default=str))
    hist.update(ablate_key=job["key"], seconds=round(time.time() - t0, 1))
    write_json_atomic(hist, d / "metrics.json")
    return hist


def _jobs(cfg: AblateConfig, n_runs: int) -> int:
    """Concurrent training runs: one on a GPU; on CPU one per core (each with ``threads`` threads)."""
    if cfg.jobs:
        return cfg.jobs
    import torch

    if cfg.device != "cpu" and torch.cuda.is_available():
        return 1
    return max(1, min(n_runs, (os.cpu_count() or 1) // max(1, cfg.threads or 1)))


def train_all(
    cfg: AblateConfig, labels: list[str], out: Path, eval_files: list[Path], log: Callable[[str], None]
) -> dict[str, Any]:
    """Train every variant with every seed (skipping runs whose inputs and settings are unchanged)."""
    eval_sha = {str(p): file_sha256(p) for p in eval_files}
    code = code_fingerprint("trainer")
    hists: dict[tuple[str, int], dict[str, Any]] = {}
    todo = []
    for lbl in labels:
        man = out / "variants" / lbl / "manifest.json"
        for seed in range(cfg.seeds):
            d = out / "variants" / lbl / "train" / f"seed-{seed}"
            settings = [cfg.steps, cfg.config, seed, cfg.eval_tokens, cfg.eval_every, cfg.device, cfg.schedule]
            key = sha([file_sha256(man), eval_sha, settings, code])
            mfile = d / "metrics.json"
            if mfile.is_file() and read_json(mfile).get("ablate_key") == key:
                hists[lbl, seed] = read_json(mfile)
                log(f"[{lbl}] seed {seed}: reusing the finished run")
                continue
            todo.append(
                {
                    "label": lbl,
                    "manifest": str(man),
                    "dir": str(d),
                    "key": key,
                    "steps": cfg.steps,
                    "config": cfg.config,
                    "device": cfg.device,
                    "seed": seed,
                    "eval_every": cfg.eval_every,
                    "threads": cfg.threads,
                    "eval_files": [str(p) for p in eval_files],
                    "eval_tokens": cfg.eval_tokens,
                    "schedule": cfg.schedule,
                }
            )

    def done(job: dict[str, Any], hist: dict[str, Any]) -> None:
        hists[job["label"], job["seed"]] = hist
        finals = ", ".join(f"{n} {v[-1][2]:.4f}" for n, v in hist["eval"].items())
        log(
            f"[{job['label']}] seed {job['seed']}: {cfg.steps} steps in {hist['seconds']}s on {hist['device']}; "
            f"bits/byte {finals}"
        )

    jobs = _jobs(cfg, len(todo))
    if todo:
        log(f"training {len(todo)} runs, {jobs} at a time")
    if jobs <= 1:
        for job in todo:
            done(job, train_one(job))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(train_one, job): job for job in todo}
            for f in as_completed(futures):
                done(futures[f], f.result())
    runs: dict[str, Any] = {}
    for lbl in labels:
        runs[lbl] = {}
        for seed in range(cfg.seeds):
            h, d = hists[lbl, seed], out / "variants" / lbl / "train" / f"seed-{seed}"
            runs[lbl][str(seed)] = {
                "eval": h["eval"],
                "eval_sets": h["eval_sets"],
                "device": h["device"],
                "params": h["params"],
                "seconds": h.get("seconds"),
                "tokens_per_s": h.get("tokens_per_s"),
                "dir": os.path.relpath(d, out),
            }
    return runs
