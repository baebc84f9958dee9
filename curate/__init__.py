"""curate: raw web crawls, Wikipedia dumps, books and code in; trainer-ready token shards out."""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from curate._layout import install as _install_layout  # noqa: E402

_install_layout()

__all__ = ["Pipeline", "Stage", "StageResult", "FitContext", "DocFilter", "DocMapper", "FnFilter", "FnMapper",
           "__version__"]


def __getattr__(name: str) -> Any:
    """The public API, imported on first use (``curate --version`` needs none of it)."""
    if name == "Pipeline":
        from curate.pipeline import Pipeline

        return Pipeline
    if name in ("Stage", "StageResult", "FitContext"):
        from curate import stage

        return getattr(stage, name)
    if name in ("DocFilter", "DocMapper", "FnFilter", "FnMapper"):
        from curate import steps

        return getattr(steps, name)
    raise AttributeError(f"module 'curate' has no attribute {name!r}")
