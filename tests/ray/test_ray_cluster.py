"""A real Ray cluster on loopback (head + a second worker node), the recipe submitted as a Ray job;
its shards must equal the embedded-Ray run's."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.e2e import E2E_RECIPE, REPO, e2e_env, run_curate, shard_bytes
from tests.support.ray_processes import node_port_flags, stop_cluster

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray(*args: str, env: dict, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ray"), *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_recipe_as_ray_job_on_two_node_loopback_cluster(corpus, tmp_path):
    env = e2e_env(corpus)
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    raytmp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: AF_UNIX socket paths are <= 107 bytes
    env["RAY_TMPDIR"] = str(raytmp)
    # Ray 2.60 turns on token auth for a head when ~/.ray/auth_token exists but not for joining nodes:
    # use token auth explicitly, with a token of this test's own, for every process of the cluster.
    (raytmp / "token").write_text(secrets.token_hex(32))
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(raytmp / "token"), CURATE_DEBUG="1")
    gcs, dash = _free_port(), _free_port()
    head = _ray(
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={gcs}",
        "--num-cpus=1",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dash}",
        "--disable-usage-stats",
        f"--temp-dir={raytmp}",
        *node_port_flags(),
        env=env,
    )
    # The second node gets its own temp dir, as a separate machine would: two nodes sharing one
    # session dir unpack and garbage-collect the same job package under each other.
    wtmp = Path(tempfile.mkdtemp(prefix="rayw", dir="/tmp"))
    try:
        assert head.returncode == 0, head.stdout + head.stderr
        worker = _ray(
            "start",
            f"--address=127.0.0.1:{gcs}",
            "--node-ip-address=127.0.0.1",
            "--num-cpus=1",
            "--disable-usage-stats",
            f"--temp-dir={wtmp}",
            *node_port_flags(),
            env=dict(env, RAY_TMPDIR=str(wtmp)),
        )
        assert worker.returncode == 0, worker.stdout + worker.stderr
        out = tmp_path / "cluster_run"
        deadline = time.time() + 120
        while True:  # the job server needs a moment after `ray start`
            job = _ray(
                "job",
                "submit",
                f"--address=http://127.0.0.1:{dash}",
                "--working-dir",
                str(REPO),
                "--",
                "python",
                "-m",
                "curate",
                "run",
                str(E2E_RECIPE),
                "--out",
                str(out),
                env=env,
                timeout=900,
            )
            said = job.stderr + job.stdout
            # the job server refuses until the head's dashboard agent is up: "No available agent ... try again later"
            if (
                job.returncode == 0
                or time.time() > deadline
                or not ("Connection" in said or "No available agent" in said)
            ):
                break
            time.sleep(3)
        assert job.returncode == 0, job.stdout[-4000:] + job.stderr[-4000:]
        status = _ray("status", f"--address=127.0.0.1:{gcs}", env=env)
        assert status.stdout.count("node_") >= 2 or "2.0 CPU" in status.stdout, status.stdout
    finally:
        stop_cluster(str(raytmp), str(wtmp))
        shutil.rmtree(raytmp, ignore_errors=True)
        shutil.rmtree(wtmp, ignore_errors=True)
    embedded = tmp_path / "embedded_run"
    run_curate(embedded, corpus)
    assert shard_bytes(out) == shard_bytes(embedded)
