"""Gopher's n-gram repetition measures (Rae et al. 2021, App. A) over integer ids of tokens.

``NGrams(ws)`` numbers each distinct word once, then builds each n-gram level from the one below it: the
n-gram at position i is the pair (gram at i, gram at i+1) of the level below, so every level is one pass
over integer pairs, and only positions whose two halves occur at least twice elsewhere are carried up (a
gram containing a unique shorter gram is unique). Ids are exact (no hashing collisions) and numbered in
first-occurrence order, so the results equal Gopher's string formulas to the last character:
- ``top_chars(n)``: characters of the most frequent n-gram joined by spaces times its count, the first
  seen winning a tie (``Counter.most_common(1)``);
- ``dup_chars(n)``: characters of n-grams that repeat an earlier n-gram, skipping over each repeat.
Words contain no whitespace (``filters.text.words``), so joined n-grams are equal exactly when their
word sequences are.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

import numpy as np


@dataclass
class _Level:
    """The n-grams that may repeat: their positions (ascending), their ids, and per id its count."""

    pos: np.ndarray
    ids: np.ndarray
    counts: np.ndarray


def _tokens(ws: list[str]) -> _Level:
    index = dict(zip(dict.fromkeys(ws), range(len(ws))))  # ids in order of first occurrence
    ids = np.fromiter(map(index.__getitem__, ws), np.int64, len(ws))
    counts = np.bincount(ids, minlength=len(index)).astype(np.int64, copy=False)
    return _Level(np.arange(len(ws), dtype=np.int64), ids, counts)


def _number(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ids of ``keys`` (equal keys, equal ids; numbered in key order) and the count of each id."""
    order = np.argsort(keys)
    ordered = keys[order]
    new = np.empty(len(keys), np.bool_)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    group = np.cumsum(new) - 1
    ids = np.empty_like(group)
    ids[order] = group
    return ids, np.bincount(group, minlength=0)


def _grow(low: _Level) -> _Level:
    """The level of (n+1)-grams from the n-grams: adjacent positions whose grams both occur twice or more."""
    if not len(low.pos):  # no gram repeats: neither does a longer one
        return low
    may = low.counts[low.ids] >= 2
    pair = may[:-1] & may[1:] & (low.pos[1:] == low.pos[:-1] + 1)
    ids, counts = _number(low.ids[:-1][pair] * len(low.counts) + low.ids[1:][pair])
    return _Level(low.pos[:-1][pair], ids, counts)


class NGrams:
    """Top and duplicated n-gram character counts of one document's words; levels are built on first use."""

    def __init__(self, ws: list[str]):
        self.n_words = len(ws)
        # character offsets: the words before position i have _starts[i] characters
        self._starts = list(accumulate(map(len, ws), initial=0))
        self._levels = [_tokens(ws)]

    def _level(self, n: int) -> _Level:
        while len(self._levels) < n:
            self._levels.append(_grow(self._levels[-1]))
        return self._levels[n - 1]

    def _chars(self, p: int, n: int) -> int:
        return self._starts[p + n] - self._starts[p]

    def top_chars(self, n: int) -> int:
        """Characters of the most frequent n-gram (words joined by single spaces) times its count."""
        if n < 1 or self.n_words < n:
            return 0
        lv = self._level(n)
        best = int(lv.counts.max()) if len(lv.counts) else 1
        if best < 2:  # every n-gram is unique: the first one wins
            return self._chars(0, n) + n - 1
        p = int(lv.pos[np.argmax(lv.counts[lv.ids] == best)])  # the first seen of the most frequent wins a tie
        return (self._chars(p, n) + n - 1) * best

    def dup_chars(self, n: int) -> int:
        """Characters of the n-grams that repeat an earlier n-gram, the scan skipping over each repeat (so a
        gram inside a skipped span is never seen). Grams seen once are left out of the scan: they repeat none."""
        if n < 1 or self.n_words < n:
            return 0
        lv = self._level(n)
        rep = lv.counts[lv.ids] >= 2
        seen: set[int] = set()
        chars = resume = 0
        for p, g in zip(lv.pos[rep].tolist(), lv.ids[rep].tolist()):
            if p < resume:
                continue
            if g in seen:
                chars += self._chars(p, n)
                resume = p + n
            else:
                seen.add(g)
        return chars
