"""The tokenizer's training sample, read batch by batch (a task's memory is one batch plus its share of the
sample, whatever the part's size).

Every line of every document *instance* (a document with meta ``repeat = r`` has r instances) is drawn with
probability ``sample_chars / total_chars`` from a generator seeded by ``(seed, id, instance)``, so the sample
follows the mix, does not depend on how the data is split into parts, and holds about ``sample_chars``
characters in all (the driver's share is bounded by the recipe, not by the corpus).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.batches import read_batches
from curate.mix.draws import draw64
from curate.schema import meta_dicts
from curate.tokenizer.train import doc_lines


def _repeats(t: pa.Table) -> list[int]:
    return [int(m.get("repeat", 1)) for m in meta_dicts(t)]


def part_chars(path: Path) -> int:
    """Repeat-weighted character count of one Parquet part."""
    return sum(
        len(x or "") * r
        for t in read_batches(path, ["text", "meta"])
        for x, r in zip(t.column("text").to_pylist(), _repeats(t))
    )


def sample_part(path: Path, seed: int, prob: float) -> list[tuple[int, int, str]]:
    """``(key, line number, line)`` drawn from one part; sorting them orders the sample deterministically."""
    out = []
    for t in read_batches(path, ["id", "text", "meta"]):
        for doc, text, rep in zip(t.column("id").to_pylist(), t.column("text").to_pylist(), _repeats(t)):
            lines = doc_lines(text or "")
            for r in range(rep if lines else 0):
                key = draw64(seed, "sample", doc, r)
                picks = np.random.Generator(np.random.PCG64(key)).random(len(lines)) < prob
                out.extend((key, int(j), lines[j]) for j in np.flatnonzero(picks))
    return out
