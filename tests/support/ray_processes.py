"""Stop one test's own Ray cluster: the processes whose command line names its private Ray directory, and their
children (a job's driver), never another test's Ray (`ray stop --force` kills every Ray process on the machine)."""

from __future__ import annotations

import socket
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


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports free just now (held open together so none repeats)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def node_port_flags() -> list[str]:
    """`ray start` flags giving a node's agents and managers ports of their own: with Ray's fixed defaults
    (dashboard agent 52365, ...) a node beside another test's embedded Ray fails to start its agent."""
    client, agent, agent_grpc, metrics, runtime_env, node_mgr, obj_mgr = free_ports(7)
    return [
        f"--ray-client-server-port={client}",
        f"--dashboard-agent-listen-port={agent}",
        f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--metrics-export-port={metrics}",
        f"--runtime-env-agent-port={runtime_env}",
        f"--node-manager-port={node_mgr}",
        f"--object-manager-port={obj_mgr}",
    ]
