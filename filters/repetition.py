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


@dataclass
class _Level:
    """The n-grams that may repeat: their positions (ascending), ids, and per id its count and first position."""
    pos: list[int]
    ids: list[int]
    counts: list[int]
    first: list[int]


def _tokens(ws: list[str]) -> _Level:
    index: dict[str, int] = {}
    ids = [index.setdefault(w, len(index)) for w in ws]
    counts = [0] * len(index)
    first = [0] * len(index)
    for p, g in enumerate(ids):
        if not counts[g]:
            first[g] = p
        counts[g] += 1
    return _Level(list(range(len(ws))), ids, counts, first)


def _grow(low: _Level) -> _Level:
    """The level of (n+1)-grams from the n-grams: adjacent positions whose grams both occur twice or more."""
    index: dict[int, int] = {}
    pos: list[int] = []
    ids: list[int] = []
    counts: list[int] = []
    first: list[int] = []
    lc, m = low.counts, len(low.counts)
    prev_p, prev_g = -2, 0
    for p, g in zip(low.pos, low.ids):
        if lc[g] < 2:
            prev_p = -2
            continue
        if p == prev_p + 1:
            key = prev_g * m + g
            j = index.get(key)
            if j is None:
                j = index[key] = len(counts)
                counts.append(1)
                first.append(prev_p)
            else:
                counts[j] += 1
            pos.append(prev_p)
            ids.append(j)
        prev_p, prev_g = p, g
    return _Level(pos, ids, counts, first)


class NGrams:
    """Top and duplicated n-gram character counts of one document's words; levels are built on first use."""

    def __init__(self, ws: list[str]):
        self.n_words = len(ws)
        self._starts = [0]  # character offsets: the words before position i have _starts[i] characters
        acc = 0
        for w in ws:
            acc += len(w)
            self._starts.append(acc)
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
        best = max(lv.counts, default=1)
        if best < 2:  # every n-gram is unique: the first one wins
            return self._chars(0, n) + n - 1
        p = lv.first[lv.counts.index(best)]
        return (self._chars(p, n) + n - 1) * best

    def dup_chars(self, n: int) -> int:
        """Characters of the n-grams that repeat an earlier n-gram, the scan skipping over each repeat (so a
        gram inside a skipped span is never seen)."""
        if n < 1 or self.n_words < n:
            return 0
        lv = self._level(n)
        seen: set[int] = set()
        chars = resume = 0
        for p, g in zip(lv.pos, lv.ids):
            if p < resume:
                continue
            if g in seen:
                chars += self._chars(p, n)
                resume = p + n
            else:
                seen.add(g)
        return chars
