"""GPT-3 style quality classifier pieces (Brown et al. 2020, Appendix A): fastText training data,
held-out metrics, the seeded Pareto keep rule and its calibration."""
from __future__ import annotations

import hashlib
import re

import numpy as np

from curate.filters.text import words

POS, NEG = "__label__hq", "__label__lq"
_CJK_SPACE = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\u3040-\u30ff])")


def ft_line(text: str, max_chars: int) -> str:
    """fastText input for a document: lowercased, first ``max_chars``, CJK characters spaced out so they
    are tokens; the caller's predict adds the newline handling."""
    t = text[:max_chars].lower()
    return _CJK_SPACE.sub(r" \1 ", t) if _CJK_SPACE.search(t) else t


def chunks(text: str, chunk_words: int, max_chunks: int) -> list[str]:
    """Training examples from one document: consecutive runs of ``chunk_words`` words (books are one
    huge document; chunking keeps the positive class from being a handful of rows)."""
    ws = words(text)
    return [" ".join(ws[i:i + chunk_words]) for i in range(0, len(ws), chunk_words)][:max_chunks]


def doc_hash(seed: int, doc_id: str) -> int:
    """A 64-bit hash of (seed, id): the per-document random key, independent of batching."""
    return int.from_bytes(hashlib.blake2b(f"{seed}\x00{doc_id}".encode(), digest_size=8).digest(), "little")


def pareto_draw(seed: int, doc_id: str, alpha: float) -> float:
    """``np.random.pareto(alpha)`` from a generator seeded by (seed, id): same draw for a document
    whatever the batch or worker it lands in."""
    return float(np.random.default_rng(doc_hash(seed, doc_id)).pareto(alpha))


def pareto_keep(score: float, seed: int, doc_id: str, alpha: float) -> bool:
    """GPT-3's rule: keep when ``np.random.pareto(alpha) > 1 - score``."""
    return pareto_draw(seed, doc_id, alpha) > 1.0 - score


def expected_keep_rate(scores: np.ndarray, alpha: float, weights: np.ndarray | None = None) -> float:
    """Mean keep probability: numpy's pareto is Lomax, P(X > x) = (1 + x) ** -alpha, so a document
    with score s is kept with probability (2 - s) ** -alpha."""
    p = (2.0 - np.asarray(scores, float)) ** -alpha
    return float(np.average(p, weights=weights))


def calibrate_alpha(scores: np.ndarray, target: float, weights: np.ndarray | None = None) -> float:
    """The alpha whose expected keep rate on ``scores`` is ``target`` (bisection; rate falls with alpha)."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"target keep rate must be in (0, 1), got {target}")
    lo, hi = 1e-6, 1e4
    if expected_keep_rate(scores, hi, weights) > target:
        return hi
    for _ in range(200):
        mid = (lo * hi) ** 0.5
        if expected_keep_rate(scores, mid, weights) > target:
            lo = mid
        else:
            hi = mid
    return (lo * hi) ** 0.5


def calibrate_threshold(scores: np.ndarray, target: float, weights: np.ndarray | None = None) -> float:
    """The score threshold keeping a fraction ``target`` of ``scores`` (of their total weight if given)."""
    scores = np.asarray(scores, float)
    if weights is None:
        return float(np.quantile(scores, 1.0 - target))
    order = np.argsort(-scores, kind="mergesort")
    kept = np.cumsum(np.asarray(weights, float)[order]) / float(np.sum(weights))
    i = min(int(np.searchsorted(kept, target)), len(scores) - 1)
    if i > 0 and target - kept[i - 1] < kept[i] - target:  # the nearer of the two cuts around the target
        i -= 1
    return float(scores[order][i])


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney U statistic (ties count half)."""
    labels = np.asarray(labels, bool)
    scores = np.asarray(scores, float)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if not n_pos or not n_neg:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def precision_recall(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> tuple[float, float]:
    labels = np.asarray(labels, bool)
    pred = np.asarray(scores, float) >= threshold
    tp = int((pred & labels).sum())
    return (tp / int(pred.sum()) if pred.any() else 0.0, tp / int(labels.sum()) if labels.any() else 0.0)
