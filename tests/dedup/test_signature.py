"""MinHash signatures equal datasketch's, on real English and Japanese text."""

from __future__ import annotations

import bz2
import json
from pathlib import Path

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH

from curate.dedup import lsh
from curate.dedup.minhash import estimate
from curate.dedup.shingle import shingle_hash32, shingles, units
from curate.dedup.signature import MinHasher


@pytest.fixture(scope="module")
def texts(corpus: Path) -> list[str]:
    docs = [json.loads(line)["text"] for line in (corpus / "dedup" / "docs.jsonl").open()][:25]
    with bz2.open(corpus / "wiki" / "jawiki-20230501-pages-articles-multistream.head.xml.bz2", "rt") as f:
        ja = f.read(400_000)[200_000:]
    return docs + [ja[i : i + 2000] for i in range(0, 20_000, 2000)] + ["", "one two"]


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
def test_sha1_mode_equals_datasketch_default(texts: list[str], scheme: str) -> None:
    sig = MinHasher(128, seed=3, hash="sha1", scheme=scheme).signatures(texts)
    for t, row in zip(texts, sig):
        m = MinHash(128, seed=3, scheme=scheme)
        m.update_batch([s.encode("utf-8") for s in shingles(t)])
        assert np.array_equal(m.hashvalues, row)


def test_fast_mode_equals_datasketch_with_our_hashfunc(texts: list[str]) -> None:
    mh = MinHasher(128, seed=1)
    sig = mh.signatures(texts)
    assert mh.empty_rows(sig).tolist() == [t == "" for t in texts]
    n_cjk = 0
    for t, row in zip(texts, sig):
        us, k, sep = units(t)
        n_cjk += sep == ""
        m = MinHash(128, seed=1, hashfunc=shingle_hash32)
        m.update_batch([tuple(us[i : i + k]) for i in range(max(1, len(us) - k + 1))] if us else [])
        assert np.array_equal(m.hashvalues, row)
    assert n_cjk >= 8  # the Japanese chunks are shingled by characters


def test_lean_minhash_and_estimates_agree(texts: list[str]) -> None:
    mh = MinHasher(hash="sha1")
    sig = mh.signatures(texts[:6])
    for i in range(5):
        ours = mh.lean(sig[i])
        assert isinstance(ours, LeanMinHash)
        ref_a, ref_b = MinHash(128, 1), MinHash(128, 1)
        ref_a.update_batch([s.encode() for s in shingles(texts[i])])
        ref_b.update_batch([s.encode() for s in shingles(texts[i + 1])])
        assert ours.jaccard(mh.lean(sig[i + 1])) == ref_a.jaccard(ref_b)


def test_lsh_params_are_datasketchs() -> None:
    for t in (0.5, 0.7, 0.8, 0.9):
        ref = MinHashLSH(threshold=t, num_perm=128)
        assert lsh.params(t, 128) == (ref.b, ref.r)
    e = estimate(1_000_000, 128, 13, 7, 0.8, 4)
    assert e["signature_disk_mb"] >= 1e6 * 128 * 4 / 2**20
    assert e["peak_mb_per_bucket_task"] > 0 and e["signature_cpu_s"] > 0
    assert e["expected_recall_at_threshold"] == pytest.approx(lsh.recall(0.8, 13, 7), abs=1e-4)
    assert e["expected_recall_at_threshold+0.05"] >= 0.99


@pytest.mark.parametrize("t", [0.6, 0.7, 0.75, 0.8, 0.85, 0.9])
def test_params_for_recall_meet_targets(t: float) -> None:
    b, r = lsh.params_for_recall(t, 128)
    assert b * r <= 128
    assert lsh.recall(t, b, r) >= 0.95 and lsh.recall(min(1.0, t + 0.05), b, r) >= 0.99


def test_stage_lsh_params_recall_first_override_stays() -> None:
    from curate.dedup.minhash import MinHashDedupStage

    assert MinHashDedupStage().lsh_params() == lsh.params_for_recall(0.8, 128) == (13, 7)
    assert MinHashDedupStage(MinHashDedupStage.Config(bands=9, rows=13)).lsh_params() == (9, 13)
    assert MinHashDedupStage(MinHashDedupStage.Config(verify=False)).lsh_params() == lsh.params(0.8, 128)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        MinHashDedupStage(MinHashDedupStage.Config(bands=20, rows=8)).lsh_params()


def test_verification_jaccard_equals_the_truth_sets(corpus: Path) -> None:
    from curate.dedup.signature import jaccards, shingle_sets

    text = {r["id"]: r["text"] for r in map(json.loads, (corpus / "dedup" / "docs.jsonl").open())}
    truth = [json.loads(line) for line in (corpus / "dedup" / "truth.jsonl").open()]
    va, oa = shingle_sets([text[t["id"]] for t in truth])
    vb, ob = shingle_sets([text[t["duplicate_of"]] for t in truth])
    idx = np.arange(len(truth), dtype=np.int64)
    got = jaccards(va, oa, idx, vb, ob, idx)
    want = np.array([t["jaccard_5gram"] for t in truth])
    assert np.abs(got - want).max() < 1e-4  # truth rounds to 4 decimals
    assert np.array_equal(np.diff(oa), [len(set(shingles(text[t["id"]]))) for t in truth])


def test_batch_kernels_equal_the_per_text_reference_across_text_boundaries(
    texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts are hashed as one concatenated batch: a word that ends one text and a word that starts the next
    stay apart, empty and missing texts keep their rows, and a 70,000-character word (real word characters
    with the spaces taken out) hashes as one unit. Shingle sets cut into character-bounded batches equal
    one batch."""
    from curate.dedup import signature
    from curate.dedup.shingle import combine64, unit_hash64
    from curate.dedup.signature import jaccards, shingle_sets

    en, ja = texts[0], texts[-3]
    glued = "".join(ch for ch in en if ch.isalnum())
    long_word = (glued * (70_000 // len(glued) + 1))[:70_000]
    batch = [en.rstrip(), texts[1].lstrip(), None, "", long_word, ja, en[:7], texts[2] + ja[:40], texts[1][:-300]]
    mh = MinHasher(128, seed=5)
    sig = mh.signatures(batch)
    values, offsets = shingle_sets(batch)
    for i, t in enumerate(batch):
        us, k, _ = units(t)
        grams = [tuple(us[j : j + k]) for j in range(max(1, len(us) - k + 1))] if us else []
        ref = MinHash(128, seed=5, hashfunc=shingle_hash32)
        ref.update_batch(grams)
        assert np.array_equal(sig[i], ref.hashvalues), i
        want = sorted({combine64([unit_hash64(u) for u in g]) for g in grams})
        assert values[offsets[i] : offsets[i + 1]].tolist() == want, i
    ia = np.array([0, 0, 1, 4, 5, 7, 3, 8], np.int64)
    ib = np.array([0, 1, 7, 4, 7, 5, 2, 1], np.int64)
    got = jaccards(values, offsets, ia, values, offsets, ib)
    for k, (a, b) in enumerate(zip(ia, ib)):
        sa, sb = (set(values[offsets[x] : offsets[x + 1]].tolist()) for x in (a, b))
        union = len(sa | sb)
        assert got[k] == np.float32(len(sa & sb) / union if union else 0.0), k
    assert got[0] == 1.0 and 0.0 < got[7] < 1.0
    monkeypatch.setattr(signature, "_SET_CHARS", 3_000)
    cut_values, cut_offsets = shingle_sets(batch)
    assert np.array_equal(cut_values, values) and np.array_equal(cut_offsets, offsets)
