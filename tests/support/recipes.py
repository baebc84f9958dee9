"""Small recipes over real corpus files, for tests that need a run but not a particular input."""

from __future__ import annotations

from pathlib import Path

# Pipeline.run arguments for a quiet in-process run.
QUIET = {"workers": 0, "log": lambda m: None}


def books_recipe(corpus: Path, stages: list | None = None, source: str = "books", **extra) -> dict:
    """A recipe reading two real Project Gutenberg books (source ``source``) through ``stages``; ``extra``
    sets other recipe keys."""
    return {
        "name": "books",
        "seed": 1,
        "workers": 0,
        "stages": stages or [],
        "sources": [
            {
                "name": source,
                "kind": "books",
                "format": "text",
                "paths": [str(corpus / "books" / "pg84.txt"), str(corpus / "books" / "11-0.txt")],
            }
        ],
        **extra,
    }
