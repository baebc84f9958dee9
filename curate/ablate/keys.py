"""Keys that tell a re-run of an ablation which finished work it may reuse."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent


def sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:20]


# the ablation driver's own modules: editing them changes no build, so they do not invalidate reused builds
# (what they derive, e.g. the variant recipes, is in the keys as data); holdout.py is a stage: it counts
DRIVER_FILES = {"curate/cli.py", "curate/report.py", "curate/svgplot.py"}
DRIVER_DIRS = ("curate/ablate/",)
KEEP = {"curate/ablate/holdout.py"}


def code_fingerprint(*packages: str) -> str:
    """Hash of every ``.py`` file of the named top-level packages but the driver's (a code change there
    invalidates reused work)."""
    h = hashlib.sha256()
    for pkg in packages:
        for f in sorted((REPO / pkg).rglob("*.py")):
            rel = str(f.relative_to(REPO))
            if rel not in KEEP and (rel in DRIVER_FILES or rel.startswith(DRIVER_DIRS)):
                continue
            h.update(str(f.relative_to(REPO)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]
