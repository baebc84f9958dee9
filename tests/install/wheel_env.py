"""A fresh venv with curate installed from a wheel built from this checkout, offline: the wheel is built
without build isolation, and the venv (no pip, no packages) reaches the pinned dependencies through a ``.pth``
line naming the test venv's site-packages, where no curate is installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests import REPO

SOURCES = (
    "curate",
    "filters",
    "tokenizer",
    "trainer",
    "recipes",
    "pyproject.toml",
    "setup.py",
    "README.md",
    "requirements.txt",
)


def wheel_venv(tmp: Path) -> Path:
    """Build the wheel under ``tmp`` and install it into the venv ``tmp/venv``; returns the venv."""
    src = tmp / "src"
    src.mkdir(parents=True)
    for name in SOURCES:  # a clean copy: the build writes build/ and *.egg-info next to the sources
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / name, src / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp / "dist"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp / "dist").glob("curate-*.whl")
    env = tmp / "venv"
    subprocess.run(
        [getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(env)],
        check=True,
        timeout=120,
    )
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(
        subprocess.run(
            [str(env / "bin" / "python"), "-c", purelib], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    (site / "pinned-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return env
