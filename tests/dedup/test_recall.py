"""Recall at the threshold on 1,200 pairs planted in real text (``bench._planted``): exact 5-gram Jaccard
spread over 0.80-0.95; every pair at J >= 0.85 must be found with probability >= 0.99, at [0.80, 0.85)
>= 0.95, and nothing else may be removed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench._planted import planted_pairs
from curate.dedup.minhash import MinHashDedupStage
from curate.schema import meta_dicts
from tests.dedup.test_dedup import run_stage, write_parts


def test_recall_on_planted_pairs(corpus: Path, tmp_path: Path) -> None:
    docs = planted_pairs(1200, 0.80, 0.95, seed=0)
    pairs = [(d["id"], d["duplicate_of"], d["jaccard"]) for d in docs if "duplicate_of" in d]
    jac = np.array([j for _, _, j in pairs])
    assert len(pairs) == 1200 and jac.min() >= 0.80 and jac.max() <= 0.95
    assert (jac < 0.85).sum() >= 300 and (jac >= 0.90).sum() >= 300  # spread over the range
    rows = [{k: d[k] for k in ("id", "source", "kind", "url", "text", "meta")} for d in docs]
    parts = write_parts(rows, tmp_path / "parts", 5)
    state, kept, dropped = run_stage(MinHashDedupStage(), parts, tmp_path / "work")
    survivor = {i: i for i in kept.column("id").to_pylist()}
    survivor.update(zip(dropped.column("id").to_pylist(), (m["dup_of"] for m in meta_dicts(dropped))))
    found = np.array([survivor[c] == survivor[o] for c, o, _ in pairs])
    high, low = found[jac >= 0.85].mean(), found[jac < 0.85].mean()
    print(
        f"recall J>=0.85: {high:.4f} ({(jac >= 0.85).sum()} pairs), J in [0.80, 0.85): {low:.4f} ({(jac < 0.85).sum()})"
    )
    assert high >= 0.99, high
    assert low >= 0.95, low
    copies = {c for c, _, _ in pairs}
    wrong = [i for i in dropped.column("id").to_pylist() if i not in copies]
    assert not wrong, wrong[:5]  # precision 1.0: only planted copies removed, each for its original
    assert all(survivor[c] == o for c, o, _ in pairs if survivor[c] != c)
