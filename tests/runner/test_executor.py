"""The executor interface: what the runner calls is declared (``curate.executor.Executor``), and both
implementations provide it."""

from __future__ import annotations

import inspect

from curate.executor import Executor, LocalExecutor, RayExecutor, make_executor


def test_the_in_process_executor_is_an_executor_and_keeps_item_order():
    ex = make_executor(0)
    assert isinstance(ex, LocalExecutor) and isinstance(ex, Executor)
    assert ex.map(len, ["a", "bcd", ""], desc="lengths") == [1, 3, 0]
    assert set(ex.task_cpu_s) == {"lengths"}
    ex.shutdown()


def test_the_ray_executor_defines_every_method_of_the_interface_with_its_signature():
    for name in ("map", "imap", "shutdown"):
        declared = inspect.signature(getattr(Executor, name))
        assert inspect.signature(getattr(RayExecutor, name)) == declared, name
        assert inspect.signature(getattr(LocalExecutor, name)) == declared, name
