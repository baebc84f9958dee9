"""Your own steps in Python: a filter and a mapper, run from a recipe or composed without YAML.

Run the recipe beside this file (``python -m curate run examples/user_steps.yaml --out runs/user_steps``
from the project root: the recipe names these classes by import path), or this file
(``python -m examples.user_steps runs/user_steps-py``) for the same steps composed in Python.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curate.config import bounds
from curate.steps import DocFilter, DocMapper, FnFilter

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
BLANK_RUN = re.compile(r"\n{3,}")


class MinWords(DocFilter):
    """Drops documents with fewer than ``min_words`` words (reason ``minwords:short``)."""

    @dataclass
    class Config:
        min_words: int = field(default=50, metadata=bounds(ge=1))

    def keep(self, doc: dict) -> bool | str:
        return len(doc["text"].split()) >= self.config.min_words or "short"


class MaxChars(DocFilter):
    """The batch variant: one vectorised decision per Arrow batch (reason ``maxchars:long``)."""

    @dataclass
    class Config:
        max_chars: int = field(default=100_000, metadata=bounds(ge=1))

    def keep_batch(self, batch: pa.Table) -> list[bool | str]:
        lengths = pc.fill_null(pc.utf8_length(batch.column("text")), 0).to_pylist()
        return [n <= self.config.max_chars or "long" for n in lengths]


class CollapseBlankLines(DocMapper):
    """Rewrites runs of blank lines to one blank line, and records how many runs it collapsed in meta."""

    def map(self, doc: dict) -> dict:
        text, n = BLANK_RUN.subn("\n\n", doc["text"])
        return dict(doc, text=text, meta=dict(doc["meta"], blank_runs=n))


def main(out: str) -> None:
    from curate.pipeline import Pipeline

    pipeline = Pipeline(
        name="user_steps_py",
        workers=2,
        sources=[
            {
                "name": "docs",
                "kind": "web",
                "format": "jsonl",
                "paths": [str(CORPUS / "dedup" / "docs.jsonl")],
                "options": {"id_field": "id"},
            }
        ],
        stages=[
            {"langid": {"languages": ["en"]}},
            MinWords(MinWords.Config(min_words=100)),
            CollapseBlankLines(),
            FnFilter(lambda doc: "cookie" not in doc["text"].lower() or "cookies", name="no_cookies"),
        ],
    )
    summary = pipeline.run(out=out)
    for s in summary["stages"]:
        print(f"{s['dir']}: in={s['in']} kept={s['kept']} dropped={s['dropped']} errors={s['errors']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/user_steps-py")
