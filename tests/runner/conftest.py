"""Fixtures of the runner tests."""

from __future__ import annotations

import pytest

from curate import registry


@pytest.fixture
def engine_components(monkeypatch):
    """The reader and stages of tests/support/engine.py, registered under their recipe names."""
    monkeypatch.setitem(registry.READERS, "test_lines", "tests.support.engine:LinesReader")
    monkeypatch.setitem(registry.STAGES, "test_min_length", "tests.support.engine:MinLength")
    monkeypatch.setitem(registry.STAGES, "test_drop_longest", "tests.support.engine:DropLongest")
