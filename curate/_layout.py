"""``curate.filters``, ``curate.tokenizer`` and ``curate.trainer`` in a source checkout.

An installed wheel holds them as real subpackages (``pyproject.toml`` maps the top-level folders
``filters/``, ``tokenizer/`` and ``trainer/`` to ``curate.*``, so no generic top-level name is installed).
A source checkout keeps the folders at the top level; there this finder makes ``curate.filters.x`` the
very module object ``filters.x`` (not a second copy), so code written against ``curate.*`` runs from the
checkout too, and classes, registries and pickles are the same whichever name imported them.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

SUBPACKAGES = ("filters", "tokenizer", "trainer")


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        parts = fullname.split(".")
        if len(parts) < 2 or parts[0] != "curate" or parts[1] not in SUBPACKAGES:
            return None
        real = importlib.util.find_spec(".".join(parts[1:]))
        if real is None:
            return None
        return importlib.util.spec_from_loader(fullname, self,
                                               is_package=real.submodule_search_locations is not None)

    def create_module(self, spec: Any) -> ModuleType:
        return importlib.import_module(spec.name.split(".", 1)[1])

    def exec_module(self, module: ModuleType) -> None:  # already executed under its real name
        return None

    def get_code(self, fullname: str) -> Any:  # for ``python -m curate.trainer``
        real = fullname.split(".", 1)[1]
        spec = importlib.util.find_spec(real)
        return spec.loader.get_code(real) if spec and spec.loader else None


def install() -> None:
    """Install the finder when running from a source checkout (a no-op for an installed wheel)."""
    here = Path(__file__).resolve().parent
    if (here / "filters").is_dir() or any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        return
    if all((here.parent / name / "__init__.py").is_file() for name in SUBPACKAGES):
        if str(here.parent) not in sys.path:
            sys.path.append(str(here.parent))
        sys.meta_path.insert(0, _AliasFinder())
