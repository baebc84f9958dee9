"""curate: raw web crawls, Wikipedia dumps, books and code in; trainer-ready token shards out."""

from __future__ import annotations

import os
from typing import Any

__version__ = "0.1.0"

# curate.filters, curate.tokenizer and curate.trainer: the top-level folders filters/, tokenizer/ and trainer/.
# A wheel installs them inside this package; a source checkout finds them beside it, through __path__.
if not os.path.isdir(os.path.join(__path__[0], "filters")):
    __path__.append(os.path.dirname(os.path.abspath(__path__[0])))

__all__ = [
    "Pipeline",
    "Stage",
    "StageResult",
    "FitContext",
    "DocFilter",
    "DocMapper",
    "FnFilter",
    "FnMapper",
    "__version__",
]


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
