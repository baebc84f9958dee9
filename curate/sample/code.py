"""Code sample: a copy of the local CPython standard library (source files, not build artefacts)."""

from __future__ import annotations

import fnmatch
import os
import shutil
import sysconfig
from pathlib import Path

# Top-level folders left out: third-party packages, the 23 MB test suite, the static libpython
# (config-*), compiled extension modules and the bundled pip/setuptools wheels.
EXCLUDE_TOP = ("site-packages", "dist-packages", "test", "config-*", "lib-dynload")
EXCLUDE_ANY = ("__pycache__",)
EXCLUDE_PATHS = ("ensurepip/_bundled",)
FIXED_MTIME = 315532800  # 1980-01-01: zip's epoch, so archives of the copy are reproducible too


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_files(root: Path) -> list[Path]:
    """Regular files of the stdlib to copy, relative to ``root``, sorted."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel = Path(dirpath).relative_to(root)
        keep = []
        for d in dirnames:
            sub = (rel / d).as_posix()
            if (
                d in EXCLUDE_ANY
                or sub in EXCLUDE_PATHS
                or (rel == Path(".") and any(fnmatch.fnmatch(d, p) for p in EXCLUDE_TOP))
            ):
                continue
            keep.append(d)
        dirnames[:] = sorted(keep)
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_file() and not name.endswith((".pyc", ".pyo")):
                files.append(p.relative_to(root))
    return sorted(files, key=lambda p: p.as_posix())


def copy_stdlib(dest: Path, root: Path | None = None, max_files: int = 0) -> dict[str, int]:
    """Copy the stdlib into ``dest`` (e.g. ``code/cpython``); ``max_files`` > 0 keeps the first N files."""
    root = root or stdlib_dir()
    if not root.is_dir():
        raise FileNotFoundError(f"CPython stdlib not found at {root}")
    files = stdlib_files(root)[: max_files or None]
    nbytes = 0
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)  # follows symlinks to regular files
        os.utime(target, (FIXED_MTIME, FIXED_MTIME))
        nbytes += target.stat().st_size
    return {"docs": len(files), "bytes": nbytes}
