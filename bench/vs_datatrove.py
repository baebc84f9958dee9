"""Side by side with datatrove 0.10.1 on the same WARC pages: CPU seconds and peak summed PSS of each whole
process tree (Ray's processes and workers, datatrove's worker processes included; ``bench._proctree``).

The job: extract, language ID, the Gopher/C4/FineWeb heuristics, exact and MinHash near dedup, each tool
with its own defaults (datatrove: ``bench/_datatrove_job.py`` in ``.venv-bench``, built by ``make bench``
with datatrove's pinned dependencies, never in the main venv). Inputs: the 256 pages of the test corpus's
``web/pages.warc.gz`` and, when ``make sample`` has built it, ``data/sample/web/*.warc.gz``. Rounds are
interleaved (curate, datatrove, curate, ...) so machine load hits both; minimum over rounds.
``--workers=0,2ray`` (default): curate's ``--workers`` (0 in-process; a small input still runs in-process by
``curate.smalljob``, said in the line; ``2ray`` starts Ray whatever the size) and datatrove's local workers
(0 counts as 1, in-process). Under each line, curate's peak PSS per process role (``_proctree.role``).
On the sample WARC, curate's wall time on 1 and 2 Ray workers follows, minimum of ``SCALING_ROUNDS``
interleaved rounds (``--scaling-rounds=N``; ``--scaling=0`` skips it; ``--only-scaling`` runs only that,
without datatrove, its rounds set by ``--rounds=N``).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._proctree import TreeUsage, run_measured

REPO = Path(__file__).resolve().parent.parent
BENCH_PY = REPO / ".venv-bench" / "bin" / "python"
# Wall time, unlike CPU time, also grows with whatever else the host runs, and the 2-worker run has no idle
# core to absorb it: on the 2-core machine, runs of 2-3 rounds of the same code gave 0.55x to 0.62x.
SCALING_ROUNDS = 4
JOB = """name: vs_datatrove
seed: 0
workers: 0
sources:
  - name: web
    kind: web
    format: warc
    paths: [{paths}]
stages:
  - extract: {{}}
  - langid: {{}}
  - heuristics: {{}}
  - dedup_exact: {{}}
  - dedup: {{}}
"""


def _arg(argv: list[str], name: str, default: str) -> str:
    return next((a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")), default)


def _curate(
    warcs: list[Path], workers: int, tmp: Path, force_ray: bool = False, pss: bool = True
) -> tuple[TreeUsage, int, bool]:
    recipe = tmp / "job.yaml"
    recipe.write_text(JOB.format(paths=", ".join(json.dumps(str(w)) for w in warcs)), encoding="utf-8")
    out, log = tmp / "curate", tmp / "curate.log"
    with log.open("w") as f:
        u = run_measured(
            [sys.executable, "-m", "curate", "run", str(recipe), "--out", str(out), "--workers", str(workers)],
            pss=pss,
            cwd=REPO,
            stdout=f,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, CURATE_MIN_RAY_INPUT_MB="0") if force_ray else None,
        )
    kept = json.loads((out / "summary.json").read_text())["stages"][-1]["kept"] if u.returncode == 0 else -1
    return u, kept, "running in-process instead of" in log.read_text()


def _datatrove(warcs: list[Path], workers: int, tmp: Path) -> tuple[TreeUsage, int]:
    from curate.filters.langid import bundled_model_path

    out, n = tmp / "datatrove", max(1, workers)
    src = str(warcs[0]) if len(warcs) == 1 else str(warcs[0].parent)
    with (tmp / "datatrove.log").open("w") as f:  # -P: bench/tokenize.py must not shadow the stdlib module
        u = run_measured(
            [
                str(BENCH_PY),
                "-P",
                str(REPO / "bench" / "_datatrove_job.py"),
                src,
                str(out),
                bundled_model_path(),
                str(n),
                str(n),
            ],
            cwd=REPO,
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    kept = sum(sum(1 for _ in gzip.open(p, "rt")) for p in (out / "final").glob("*.gz")) if u.returncode == 0 else -1
    return u, kept


def _scaling(label: str, warcs: list[Path], rounds: int) -> None:
    """curate's wall time on 1 and 2 Ray workers (Ray started for both: ``CURATE_MIN_RAY_INPUT_MB=0``), min
    over interleaved rounds: the read step's record-aligned ranges (``curate.runplan.READ_TASKS``) give the
    second worker its share of one file. CPU is sampled, PSS is not (``run_measured(pss=False)``): reading
    smaps would take ~15% of a core from the 2-worker run, which keeps both cores busy, and not from the
    1-worker run, which leaves one idle."""
    runs: dict[int, list[TreeUsage]] = {1: [], 2: []}
    kept: dict[int, int] = {}
    for _ in range(rounds):
        for w, usage in runs.items():
            with tempfile.TemporaryDirectory() as d:
                u, kept[w], _ = _curate(warcs, w, Path(d), force_ray=True, pss=False)
                said = (Path(d) / "curate.log").read_text(errors="replace").strip().splitlines()[-1:]
            if u.returncode:
                print(f"{label}, curate on {w} Ray worker(s): the run failed (rc {u.returncode}: {said})")
                return
            usage.append(u)
    (w1, c1), (w2, c2) = ((min(x.wall_s for x in us), min(x.cpu_s for x in us)) for us in runs.values())
    print(
        f"{label}, curate on 1 vs 2 Ray workers: wall {w1:.2f} vs {w2:.2f} s ({w2 / w1:.3f}x)   CPU {c1:.1f} vs "
        f"{c2:.1f} s   kept {kept[1]} vs {kept[2]} docs"
    )
    print(
        "    wall by round, 1 / 2 workers: "
        + ", ".join(f"{a.wall_s:.2f} / {b.wall_s:.2f}" for a, b in zip(*runs.values()))
    )


def main(argv: list[str]) -> None:
    if "--only-scaling" in argv:  # curate alone: no datatrove needed
        sample = sorted((REPO / "data" / "sample" / "web").glob("*.warc.gz"))
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        if not sample:
            print("(no data/sample/web/*.warc.gz: `make sample` builds it)")
            return
        _scaling(f"sample WARC ({len(sample)} files)", sample, int(_arg(argv, "rounds", str(SCALING_ROUNDS))))
        return
    if not BENCH_PY.exists():
        print("skipped: no .venv-bench (make bench builds it with datatrove 0.10.1)")
        return
    rounds = int(_arg(argv, "rounds", "2"))
    workers = _arg(argv, "workers", "0,2ray").split(",")  # both inputs are under 16 MB: 2 would run in-process
    corpus = Path(os.environ.get("CURATE_TEST_DATA", REPO.parent / "shared" / "corpus"))
    inputs = [("256 pages", [corpus / "web" / "pages.warc.gz"])]
    sample = sorted((REPO / "data" / "sample" / "web").glob("*.warc.gz"))
    if sample:
        inputs.append((f"sample WARC ({len(sample)} files)", sample))
    else:
        print("(no data/sample/web/*.warc.gz: `make sample` adds the larger input)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; min of {rounds} interleaved rounds")
    for label, warcs in inputs:
        for spec in workers:
            w, force_ray = int(spec.removesuffix("ray")), spec.endswith("ray")
            ours: list[TreeUsage] = []
            theirs: list[TreeUsage] = []
            for _ in range(rounds):
                with tempfile.TemporaryDirectory() as d:
                    u, kept_c, local = _curate(warcs, w, Path(d), force_ray)
                    ours.append(u)
                with tempfile.TemporaryDirectory() as d:
                    v, kept_d = _datatrove(warcs, w, Path(d))
                    theirs.append(v)
            if any(u.returncode for u in ours + theirs):
                print(
                    f"{label}, workers {w}: a run failed (curate rc {[u.returncode for u in ours]}, "
                    f"datatrove rc {[v.returncode for v in theirs]})"
                )
                continue
            c, d = (
                (min(x.cpu_s for x in ours), min(x.peak_pss_mb for x in ours), min(x.wall_s for x in ours)),
                (min(x.cpu_s for x in theirs), min(x.peak_pss_mb for x in theirs), min(x.wall_s for x in theirs)),
            )
            print(
                f"{label}, workers {w}{', Ray forced' if force_ray else ''}"
                f"{' (curate in-process: small input)' if local else ''}: "
                f"CPU {c[0]:.1f} vs {d[0]:.1f} s ({c[0] / d[0]:.2f}x)   peak PSS {c[1]:.0f} vs {d[1]:.0f} MB "
                f"({c[1] / d[1]:.2f}x)   wall {c[2]:.1f} vs {d[2]:.1f} s   kept {kept_c} vs {kept_d} docs"
            )
            roles = min(ours, key=lambda x: x.peak_pss_mb).peak_by_role
            print(
                "    curate at its peak: "
                + ", ".join(f"{r} {mb:.0f}" for r, mb in sorted(roles.items(), key=lambda x: -x[1]))
                + " MB"
            )
    if _arg(argv, "scaling", "1") != "0":
        for label, warcs in inputs[1:]:  # the sample WARC: large enough for 2 workers to share
            _scaling(label, warcs, int(_arg(argv, "scaling-rounds", str(SCALING_ROUNDS))))
