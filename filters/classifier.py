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
    return [" ".join(ws[i : i + chunk_words]) for i in range(0, len(ws), chunk_words)][:max_chunks]


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
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def precision_recall(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> tuple[float, float]:
    labels = np.asarray(labels, bool)
    pred = np.asarray(scores, float) >= threshold
    tp = int((pred & labels).sum())
    return (tp / int(pred.sum()) if pred.any() else 0.0, tp / int(labels.sum()) if labels.any() else 0.0)


# Score histogram for calibration: fixed logit-spaced bins (scores near 0 and 1 keep their resolution), merged by
# adding counts, so calibrating on every scored document needs no list of scores.
HIST_BINS = 4096
HIST_LOGIT = 16.0
HIST_EDGES = np.concatenate([[0.0], 1.0 / (1.0 + np.exp(-np.linspace(-HIST_LOGIT, HIST_LOGIT, HIST_BINS)[1:]))])


def score_histogram(scores: np.ndarray, nbytes: np.ndarray, edges: np.ndarray = HIST_EDGES) -> np.ndarray:
    """``(3, len(edges))``: documents, utf-8 bytes and score sum per bin; bin b holds ``edges[b] <= s`` below
    the next edge, so ``s >= edges[b]`` is exactly "in bin b or above" (scores below ``edges[0]`` count in bin 0)."""
    s = np.asarray(scores, float)
    n = len(edges)
    b = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n - 1)
    return np.stack(
        [np.bincount(b, minlength=n), np.bincount(b, np.asarray(nbytes, float), n), np.bincount(b, s, n)]
    ).astype(float)


def _hist_points(hist: np.ndarray, by_bytes: bool) -> tuple[np.ndarray, np.ndarray]:
    """Non-empty bins' mean scores and their weights (documents or bytes)."""
    full = hist[0] > 0
    return hist[2][full] / hist[0][full], hist[1 if by_bytes else 0][full]


def kept_shares(w: np.ndarray, above: float = 0.0) -> np.ndarray:
    """``kept[b]``: share of all weight at or above bin ``b`` (``above``: weight beyond the last bin)."""
    total = float(w.sum()) + above
    return (np.cumsum(w[::-1])[::-1] + above) / max(total, 1e-300)


def hist_alpha(hist: np.ndarray, target: float, by_bytes: bool) -> float:
    scores, weights = _hist_points(hist, by_bytes)
    return calibrate_alpha(scores, target, weights)


def hist_keep_rates(hist: np.ndarray, alpha: float) -> tuple[float, float]:
    """Expected share of documents and of bytes kept by the Pareto rule."""
    (s, docs), (_, nbytes) = _hist_points(hist, False), _hist_points(hist, True)
    return expected_keep_rate(s, alpha, docs), expected_keep_rate(s, alpha, nbytes)
