"""Summary statistics over seeds: mean, standard deviation, paired difference with a t-interval."""

from __future__ import annotations

import math
from typing import Any


def mean_std(xs: list[float]) -> dict[str, Any]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    n = len(xs)
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return {"mean": m, "std": sd, "n": n, "values": list(xs)}


def paired_difference(a: list[float], b: list[float], level: float = 0.95) -> dict[str, Any]:
    """``a - b`` paired by seed: mean, standard deviation, and the two-sided ``level`` t-interval of the mean
    (Student t with n - 1 degrees of freedom; no interval with one seed). Variants trained with the same
    seed start from the same initial weights, so pairing removes the initialisation's share of the noise."""
    from scipy.stats import t as student_t

    if len(a) != len(b) or not a:
        raise ValueError(f"paired_difference: need equal, non-empty seed lists, got {len(a)} and {len(b)}")
    d = [x - y for x, y in zip(a, b)]
    s = mean_std(d)
    out = {
        "mean": s["mean"],
        "std": s["std"],
        "n": s["n"],
        "values": d,
        "level": level,
        "low": None,
        "high": None,
        "excludes_zero": None,
    }
    if s["n"] > 1:
        half = float(student_t.ppf(0.5 + level / 2, s["n"] - 1)) * s["std"] / math.sqrt(s["n"])
        out.update(
            low=s["mean"] - half,
            high=s["mean"] + half,
            excludes_zero=bool(s["mean"] - half > 0 or s["mean"] + half < 0),
        )
    return out
