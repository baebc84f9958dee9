"""curate: raw web crawls, Wikipedia dumps, books and code in; trainer-ready token shards out."""
from __future__ import annotations

__version__ = "0.1.0"

from curate._layout import install as _install_layout  # noqa: E402

_install_layout()

from curate.pipeline import Pipeline  # noqa: E402
from curate.stage import FitContext, Stage, StageResult  # noqa: E402

__all__ = ["Pipeline", "Stage", "StageResult", "FitContext", "__version__"]
