"""Fixtures of the install tests: curate as a user installs it."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory) -> Path:
    """A fresh venv with curate installed from a wheel of this checkout (built once per session)."""
    from tests.install.wheel_env import wheel_venv

    return wheel_venv(tmp_path_factory.mktemp("wheel"))
