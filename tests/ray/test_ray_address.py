"""`curate run` and a Ray cluster running on the same machine. Without ``RAY_ADDRESS`` the run starts an
embedded Ray of its own, never the other cluster (attaching to it would fail: "When connecting to an existing
cluster, num_cpus and num_gpus must not be provided"); with it, the run's tasks run on that cluster; a cluster
that refuses us (a wrong token) or cannot be reached is one line naming the address and the variables to set.

The cluster is a real `ray start --head` on loopback with token authentication, isolated from every other Ray
on this machine: its own temporary directory (``RAY_TMPDIR``, which also makes it the cluster a plain
``ray.init()`` would find), free ports chosen here, no dashboard; in a ``finally`` its processes, found by that
directory in their command lines, are stopped by process id. Inputs: real books of the corpus.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import REPO
from tests.support.ray_processes import free_ports, stop_cluster

pytestmark = pytest.mark.slow  # about 80 s: a Ray head, three runs, Ray's 20 s of retries on a refused token
RAY = Path(sys.executable).parent / "ray"


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, dict[str, str]]]:
    """(address, environment) of a one-CPU Ray head on 127.0.0.1 in a private temp dir, token authenticated."""
    tmp = tempfile.mkdtemp(prefix="c23-", dir="/tmp")  # short: Ray's socket paths live below it
    Path(tmp, "token").write_text(secrets.token_hex(32))
    env = {
        **os.environ,
        "RAY_TMPDIR": tmp,
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": str(REPO),
        "HOME": tmp,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(Path(tmp, "token")),
    }
    for k in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "CURATE_DEBUG"):
        env.pop(k, None)
    gcs, client, agent, agent_grpc, metrics, runtime_env, node_mgr, obj_mgr = free_ports(8)
    start = [
        str(RAY),
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={gcs}",
        f"--temp-dir={tmp}",
        "--include-dashboard=false",
        "--num-cpus=1",
        "--disable-usage-stats",
        f"--ray-client-server-port={client}",
        f"--dashboard-agent-listen-port={agent}",
        f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--metrics-export-port={metrics}",
        f"--runtime-env-agent-port={runtime_env}",
        f"--node-manager-port={node_mgr}",
        f"--object-manager-port={obj_mgr}",
    ]
    try:
        p = subprocess.run(start, env=env, capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        yield f"127.0.0.1:{gcs}", env
    finally:
        stop_cluster(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp_path: Path, corpus: Path, env: dict[str, str], name: str, *args: str) -> subprocess.CompletedProcess:
    recipe = {
        "name": "books",
        "seed": 1,
        "workers": 2,
        "stages": [{"heuristics": {}}],
        "sources": [
            {
                "name": "books",
                "kind": "books",
                "format": "text",
                "paths": [str(corpus / "books" / "pg84.txt"), str(corpus / "books" / "11-0.txt")],
            }
        ],
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    return subprocess.run(
        [sys.executable, "-m", "curate", "run", str(tmp_path / "r.yaml"), "--out", name, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_ray_address_the_run_is_embedded_and_with_it_on_the_cluster(
    cluster, corpus: Path, tmp_path: Path
) -> None:
    address, env = cluster
    plain = {k: v for k, v in env.items() if not k.startswith("RAY_AUTH")}
    p = _run(tmp_path, corpus, plain, "embedded")  # a plain ray.init() would find the cluster
    assert p.returncode == 0, p.stderr[-3000:]
    embedded = json.loads((tmp_path / "embedded" / "summary.json").read_text())
    assert embedded["workers"] == 2  # its own Ray with the recipe's 2 CPUs, not the 1-CPU cluster
    p = _run(tmp_path, corpus, dict(env, RAY_ADDRESS=address), "on_cluster")
    assert p.returncode == 0, p.stderr[-3000:]
    on_cluster = json.loads((tmp_path / "on_cluster" / "summary.json").read_text())
    assert on_cluster["workers"] == 1  # the cluster's CPUs
    parts = sorted((tmp_path / "on_cluster" / "stages").rglob("part-*.parquet"))  # where --out names, not
    assert parts and not (REPO / "on_cluster").exists()  # relative to the cluster workers' folder
    assert [s["kept"] for s in on_cluster["stages"]] == [s["kept"] for s in embedded["stages"]]


def test_a_refused_or_unreachable_cluster_is_one_line_naming_what_to_set(cluster, corpus: Path, tmp_path: Path) -> None:
    address, env = cluster
    Path(tmp_path, "wrong").write_text(secrets.token_hex(32))
    for bad, why in (
        (dict(env, RAY_ADDRESS=address, RAY_AUTH_TOKEN_PATH=str(tmp_path / "wrong")), "refused"),
        (dict(env, RAY_ADDRESS=f"127.0.0.1:{free_ports(1)[0]}"), "could not be reached"),
    ):
        p = _run(tmp_path, corpus, bad, "refused")
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr[-3000:]  # a setting to fix
        lines = [x for x in p.stderr.splitlines() if x.strip()]
        assert len(lines) <= 8, p.stderr  # the plan, then one line: no warning per retry
        last = lines[-1]
        assert last.startswith(f"error: cannot use the Ray cluster at RAY_ADDRESS={bad['RAY_ADDRESS']}: "), last
        assert why in last and "RAY_AUTH_MODE=token" in last and "RAY_AUTH_TOKEN_PATH" in last
