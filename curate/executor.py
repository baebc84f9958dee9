"""Where tasks run: an embedded or existing Ray cluster, or in-process (``workers: 0``, for debugging).

``Executor`` is the interface the runner, a stage's ``FitContext`` and the ablation use; ``LocalExecutor``
and ``RayExecutor`` implement it, and ``make_executor`` picks one.

Both executors run a pass with a bounded number of tasks in flight (about twice the CPUs: enough to keep
every worker busy, few enough that the driver's bookkeeping and the object store stay small whatever the
number of tasks), report progress (``curate.progress``) and add up the CPU seconds the tasks spent, by pass.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from curate.lean import allocator_env, arrow_without_pandas, hidden, release_freed_memory
from curate.progress import Progress
from curate.signals import sigterm_kept

REPO_ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_ENV = "CURATE_RAY_DASHBOARD"  # set (``curate run --dashboard``): the embedded Ray with its dashboard
DASHBOARD_DEPS = "ray.dashboard.optional_deps"  # the module whose import tells Ray its dashboard can run
# what the lean head's processes need not record: task events feed Ray's state API and dashboard, metrics its
# agent (a stand-in here); both buffers grew GCS and raylet by 10 + 8 MB of PSS over the sample WARC's tasks
LEAN_SYSTEM_CONFIG = {
    # nothing reads task events or metrics without the dashboard and its agents
    "task_events_report_interval_ms": 0,
    "enable_metrics_collection": False,
    # the raylet starts its one worker per CPU as it starts (not when the driver connects), beside the
    # driver's planning: 1-1.3 s less before the first task, measured
    "enable_worker_prestart": True,
    # a local socket that is not listening yet (the raylet's own object store, as it starts) is retried
    # every 1,000 ms by default: 20 ms, within the same 10 s
    "raylet_client_connect_timeout_milliseconds": 20,
    "raylet_client_num_connect_attempts": 500,
}
AGENT_STANDIN = Path(__file__).resolve().parent / "ray_agent_standin.sh"  # the lean head's agents (start_lean_head)


@runtime_checkable
class Executor(Protocol):
    """Runs a pass of tasks and says what they cost."""

    workers: int  # tasks that run at once
    task_cpu_s: Counter[str]  # pass name (a ``Progress`` desc) -> CPU seconds inside its tasks

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], desc: str = "map") -> list[Any]:
        """``[fn(x) for x in items]`` run as tasks; results in item order."""
        ...

    def imap(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        *shared: Any,
        progress: Progress | None = None,
        measure: Callable[[Any], dict] | None = None,
    ) -> Iterator[tuple[int, Any]]:
        """``(index, fn(item, *shared))`` as tasks complete (any order; ``shared`` shipped once)."""
        ...

    def connect(self) -> None:
        """Be ready to run tasks now (an embedded Ray that is starting: wait for it and connect)."""
        ...

    def shutdown(self) -> None:
        """Release what the executor started (an embedded Ray)."""
        ...


class _Base:
    """What both executors share: ``map`` over ``imap``, CPU accounting by pass."""

    workers = 1

    def __init__(self) -> None:
        arrow_without_pandas()
        self.task_cpu_s: Counter[str] = Counter()  # pass name -> CPU seconds inside its tasks

    def connect(self) -> None:
        """Ready from construction."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], desc: str = "map") -> list[Any]:
        """``[fn(x) for x in items]`` run as tasks; results in item order."""
        out: list[Any] = [None] * len(items)
        progress = Progress(desc, len(items))
        try:
            for i, r in self.imap(fn, items, progress=progress):
                out[i] = r
        finally:  # its line-printing thread stops with the pass, failed or not
            progress.close()
        return out

    def imap(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        *shared: Any,
        progress: Progress | None = None,
        measure: Callable[[Any], dict] | None = None,
    ) -> Iterator[tuple[int, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _done(self, progress: Progress | None, measure: Callable[[Any], dict] | None, result: Any, cpu: float) -> None:
        """Count a finished task: its CPU, and what ``measure(result)`` says it did (``Progress.update``'s
        arguments)."""
        if progress is not None:
            self.task_cpu_s[progress.desc] += cpu
            progress.update(**(measure(result) if measure else {}))

    def shutdown(self) -> None:
        pass


class LocalExecutor(_Base):
    """Runs every task serially in this process, in order."""

    def imap(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        *shared: Any,
        progress: Progress | None = None,
        measure: Callable[[Any], dict] | None = None,
    ) -> Iterator[tuple[int, Any]]:
        for i, item in enumerate(items):
            result, cpu = _call(fn, item, *shared)
            self._done(progress, measure, result, cpu)
            yield i, result


class ClusterError(ValueError):
    """The Ray cluster at ``RAY_ADDRESS`` cannot be reached or refuses us; the message says what to set."""


@contextmanager
def _stderr_captured() -> Iterator[Callable[[], str]]:
    """Send this process's stderr (file descriptor 2: Ray's C++ core logs there, a warning per retry) to a
    temporary file while the block runs; yields a function returning what was written."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 2)
        try:
            yield lambda: (f.seek(0), f.read().decode("utf-8", "replace"))[1]
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def cluster_failure(address: str, e: BaseException, logged: str = "") -> str:
    """One line for a failed connection to ``address``: the cause, and the variables that fix it
    (``logged``: what Ray wrote to stderr meanwhile, where an authentication failure shows)."""
    cause = " ".join(str(e).split())
    auth = type(e).__name__ == "AuthenticationError" or any(
        w in f"{cause} {logged}" for w in ("InvalidAuthToken", "Unauthenticated", "authentication token")
    )
    why = "it refused our authentication (a missing or wrong token)" if auth else "it could not be reached"
    return (
        f"cannot use the Ray cluster at RAY_ADDRESS={address}: {why} ({type(e).__name__}: {cause[:160]}). "
        "For a cluster with token authentication set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN_PATH=<its token "
        "file> (or RAY_AUTH_TOKEN); check the address (host:port of the head's GCS); or unset RAY_ADDRESS to "
        "run on an embedded Ray"
    )


def _check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """Raise ClusterError at once when nothing listens at ``address`` (``host:port`` or ``ray://host:port``):
    Ray itself would wait minutes for a head that is not there."""
    host, _, port = address.split("://", 1)[-1].rstrip("/").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms: Ray resolves them
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ClusterError(cluster_failure(address, e)) from None


class RayExecutor(_Base):
    """Runs tasks as Ray tasks (1 CPU each). With ``RAY_ADDRESS`` set, on that cluster; else on an embedded
    Ray of its own (``address="local"``): never on another cluster that happens to run on this machine."""

    def __init__(
        self, workers: int, address: str | None = None, head: Any = None, stop_head: Callable[[], None] | None = None
    ):
        import ray

        super().__init__()
        self._ray = ray
        self._owned = False
        self._node: Any = None  # the lean head this executor started (``start_lean_head``), if any
        self._stop_head = stop_head  # how a head started elsewhere (``curate.headstart``) is stopped
        address = address or os.environ.get("RAY_ADDRESS")
        if not ray.is_initialized():
            env = {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT)] + [p for p in sys.path if p])}
            kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=True, configure_logging=False)
            if address:
                _check_reachable(address)
                with _stderr_captured() as logged:  # Ray warns at every retry: a failure is said once, below
                    try:
                        ray.init(address=address, runtime_env={"env_vars": env}, **kwargs)
                        failure = None
                    except Exception as e:  # ConnectionError, AuthenticationError, a timeout...
                        failure = cluster_failure(address, e, logged())
                    said = logged()
                if failure:
                    raise ClusterError(failure)
                sys.stderr.write(said)  # connected: what Ray said is worth seeing
            else:
                if os.environ.get(DASHBOARD_ENV):
                    ray.init(
                        address="local",
                        num_cpus=max(1, workers),
                        runtime_env={"env_vars": env, "worker_process_setup_hook": "curate.executor.warm_worker"},
                        **{**kwargs, "include_dashboard": True},
                    )
                else:
                    self._node = head if head is not None else start_lean_head(max(1, workers), env)
                    ray.init(address=self._node.address, **{**kwargs, "log_to_driver": False})
                self._owned = True
        self.workers = int(ray.cluster_resources().get("CPU", workers))
        self._remote = ray.remote(num_cpus=1, max_retries=3)(_call)

    def imap(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        *shared: Any,
        progress: Progress | None = None,
        measure: Callable[[Any], dict] | None = None,
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(item, *shared))`` as tasks complete (any order), at most ``2 * workers`` in flight."""
        ray = self._ray
        shared_refs = [ray.put(s) for s in shared]
        fn_ref = ray.put(fn)
        window = max(2, 2 * self.workers)
        inflight: dict[Any, int] = {}
        it = iter(enumerate(items))
        exhausted = False
        while True:
            while not exhausted and len(inflight) < window:
                nxt = next(it, None)
                if nxt is None:
                    exhausted = True
                    break
                inflight[self._remote.remote(fn_ref, nxt[1], *shared_refs)] = nxt[0]
            if not inflight:
                return
            done, _ = ray.wait(list(inflight), num_returns=1)  # O(window), not O(tasks)
            for ref in done:
                result, cpu = ray.get(ref)
                self._done(progress, measure, result, cpu)
                yield inflight.pop(ref), result

    def shutdown(self) -> None:
        if self._owned:
            self._ray.shutdown()
        if self._node is not None:
            (self._stop_head or (lambda: stop_lean_head(self._node)))()
            self._node = None


def start_lean_head(cpus: int, env: dict[str, str]) -> Any:
    """Start an embedded Ray head of this process's own and return its node: the GCS, the raylet (with the
    dashboard and runtime-env agents, which the raylet will not run without) and, on demand, workers.

    ``ray.init(address="local", include_dashboard=False)`` also starts the dashboard's API server, the
    autoscaler monitor and the log monitor (78 + 52 + 48 MB of PSS in ray 2.60, measured with
    ``bench/_proctree.py``), none of which a run on one machine uses: a task's failure comes back as its
    exception and its counts in its result, so worker logs stay in the session's log folder rather than
    being streamed to the driver. ray 2.60 has no public switch for these processes, so the node is made
    with Ray's ``Node`` and ``RayParams`` (``ray start --head --no-monitor --include-log-monitor=false``
    does the same as a command) and its API server is left out. ``--dashboard``
    (``CURATE_RAY_DASHBOARD=1``) starts Ray's full set instead. The object store is sized to what a run
    puts there (task specs and results; batches travel as files): Ray's minimum.

    ``env`` goes to the node's processes through the environment they inherit, not a job runtime_env: the
    raylet starts one idle worker per CPU for the plain environment, and a job with a runtime_env of its
    own would start as many more beside them (2 x 67 MB idle on 2 workers).

    While the node starts, Ray's dashboard dependencies are hidden (``DASHBOARD_DEPS``): ``start_raylet``
    probes for them by importing them (aiohttp, grpc, opencensus, opentelemetry, prometheus_client: 16 MB
    of PSS the driver would then hold for the whole run, measured) and, finding none, starts the
    dashboard agent ``--minimal``, as for Ray's own minimal install (``pip install ray``). Risk on a Ray
    upgrade: if Ray stops probing through that module, the driver holds those libraries again; nothing
    else changes.

    The raylet will not run without its two agents (it fate-shares with them and waits for the ports they
    serve), yet a run here uses neither: no metrics are exported, no runtime_env is set, no job is
    submitted. So the agents are stand-ins (``_HeadWithStandInAgents``): the node's ports files say "not
    served" (-1, as the minimal agent writes for the metrics ports), and the raylet starts its agents with
    ``AGENT_STANDIN`` as their interpreter, a shell that waits for the raylet to end; workers run in this
    Python. Measured on the sample WARC with 2 workers: 1 + 1 MB of PSS instead of 81 + 52 MB, and the
    node starts in 0.5 s. Risk on a Ray upgrade: if the raylet wants more of its agents (another port
    file, a call at start), the node fails to start (tests/ray/test_lean_head.py shows it);
    ``--dashboard`` runs Ray's own agents."""
    from ray._private import node as ray_node
    from ray._private.parameter import RayParams
    from ray._private.ray_constants import OBJECT_STORE_MINIMUM_MEMORY_BYTES

    class _HeadWithStandInAgents(ray_node.Node):
        def start_api_server(self, *, include_dashboard: bool | None, raise_on_failure: bool) -> None:
            return None

        def start_ray_processes(self) -> None:
            super().start_ray_processes()
            await_raylet_registered(self)

        def start_raylet(self, *args: Any, **kwargs: Any) -> None:
            from ray import _raylet

            if not os.access(AGENT_STANDIN, os.X_OK):  # an install that lost the file's mode: Ray's own agents
                return super().start_raylet(*args, **kwargs)
            for name in ("DASHBOARD_AGENT_LISTEN", "METRICS_AGENT", "METRICS_EXPORT", "RUNTIME_ENV_AGENT"):
                _raylet.persist_port(self._session_dir, self._node_id, getattr(_raylet, f"{name}_PORT_NAME"), -1)
            real, sys.executable = sys.executable, str(AGENT_STANDIN)
            try:
                super().start_raylet(*args, **kwargs)
            finally:
                sys.executable = real

    params = RayParams(
        num_cpus=cpus,
        include_dashboard=False,
        include_log_monitor=False,
        no_monitor=True,
        object_store_memory=OBJECT_STORE_MINIMUM_MEMORY_BYTES,
        _system_config=LEAN_SYSTEM_CONFIG,
    )
    env = {**env, **allocator_env(), "CURATE_RAY_PYTHON": sys.executable}  # AGENT_STANDIN runs workers in it
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with hidden(DASHBOARD_DEPS):
            return _HeadWithStandInAgents(params, head=True, shutdown_at_exit=False, spawn_reaper=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def await_raylet_registered(node: Any, timeout_s: float = 30.0, poll_s: float = 0.01) -> None:
    """Wait, polling every ``poll_s``, until ``node``'s raylet is registered with the GCS as alive (or has
    died, or ``timeout_s`` has passed: Ray's own wait then says why). ``Node.__init__`` asks for the raylet
    0.1 s after starting it and, when it has not registered yet, asks again only a second later (ray 2.60's
    ``GlobalStateAccessor::GetNode`` sleeps 1 s): on the 2-core machine that cost 1 s in about half of the
    runs. Asked once it is there, Ray's wait returns at once."""
    from ray._raylet import NodeID
    from ray.core.generated.gcs_pb2 import GcsNodeInfo
    from ray.core.generated.gcs_service_pb2 import GetAllNodeInfoRequest

    client = node.get_gcs_client()
    selector = GetAllNodeInfoRequest.NodeSelector(node_id=NodeID.from_hex(node.node_id).binary())
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not node.dead_processes():
        try:
            if client.get_all_node_info(
                timeout=timeout_s, node_selectors=[selector], state_filter=GcsNodeInfo.GcsNodeState.ALIVE
            ):
                return
        except Exception:  # noqa: BLE001 - a GCS that does not answer: Ray's own wait says what is wrong
            return
        time.sleep(poll_s)


def stop_lean_head(node: Any) -> None:
    """Stop what ``start_lean_head`` started (as ``ray.shutdown`` does for the head ``ray.init`` starts)."""
    from ray._private.ray_constants import PROCESS_TYPE_RAYLET

    node.destroy_external_storage()
    raylets = node.all_processes.get(PROCESS_TYPE_RAYLET) or []
    if raylets and raylets[0].process.poll() is None:
        stop_raylet(raylets[0].process)
    node.kill_all_processes(check_alive=False, allow_graceful=True)


def stop_raylet(raylet: Any, timeout_s: float = 1.0) -> None:
    """Stop the lean head's raylet: SIGTERM, on which it stops its workers at once; once they are gone,
    SIGTERM to the agent stand-ins (a shell: it ends at once) and SIGKILL to the raylet. Left to itself, the
    raylet next stops its agents one by one, each noticed up to a second later by a thread that polls, so
    Ray's own stop (SIGTERM, a second's grace, SIGKILL) took a full second of every run's exit (ray 2.60)."""
    import psutil

    try:
        children = psutil.Process(raylet.pid).children()
        standins = [c for c in children if str(AGENT_STANDIN) in " ".join(c.cmdline())]
    except psutil.Error:  # it ended meanwhile
        return
    raylet.terminate()
    psutil.wait_procs([c for c in children if c not in standins], timeout=timeout_s)
    for agent in standins:
        with contextlib.suppress(psutil.Error):
            agent.terminate()
    raylet.kill()
    raylet.wait()


def warm_worker() -> None:
    """Ray's set-up hook for the workers of a local cluster: one-time process initialisation, done before the
    first task so that no task's CPU record carries it, as none carries the interpreter's start-up (pyarrow's
    first conversion from Python objects, with its pandas probe settled without pandas: ``curate.lean``)."""
    arrow_without_pandas()


def _call(fn: Callable[..., Any], item: Any, *shared: Any) -> tuple[Any, float]:
    arrow_without_pandas()  # a worker's one-time set-up, outside the task's CPU record (see warm_worker)
    t0 = time.process_time()
    result = fn(item, *shared)
    release_freed_memory()  # a worker (or an in-process run) holds its modules between tasks, not their batches
    return result, time.process_time() - t0


def make_executor(workers: int, log: Callable[[str], None] | None = None) -> Executor:
    """``workers == 0``: in-process; otherwise Ray with that many CPUs (or the cluster at RAY_ADDRESS). A local
    Ray gets at most this machine's CPUs: each worker is a process, and outputs never depend on the count."""
    if workers == 0 and not os.environ.get("RAY_ADDRESS"):
        return LocalExecutor()
    workers = capped_workers(workers, log)
    with sigterm_kept():  # ray.init installs SIGTERM handlers of its own (see curate.signals)
        return RayExecutor(workers)


def capped_workers(workers: int, log: Callable[[str], None] | None = None) -> int:
    """``workers``, at most this machine's CPUs for a local Ray (said in the log), any number on a cluster."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if workers > cpus and not os.environ.get("RAY_ADDRESS"):
        (log or print)(f"workers: {workers} is more than the {cpus} CPUs of this machine; using {cpus}")
        return cpus
    return workers
