"""Counts over a document's word tokens for the Gopher quality rules.

Each runs its per-word step inside ``map``/``filter`` over ``str`` methods, so the loop over a page's
hundreds or thousands of words stays in C; a Python generator per word made these counts a third of the
heuristics stage. Each equals the obvious per-word formula given in its docstring.
"""

from __future__ import annotations

from itertools import filterfalse, repeat

from curate.filters.text import has_cjk, is_cjk_word


def latin_words(ws: list[str]) -> list[str]:
    """``[w for w in ws if not is_cjk_word(w)]``: the words whose length in characters means something."""
    if not has_cjk(" ".join(ws)):  # no CJK character at all: no word starts with one
        return ws
    return list(filterfalse(is_cjk_word, ws))


def mean_stripped_length(ws: list[str], edge: str) -> float:
    """Mean length of the words with the characters of ``edge`` stripped from both ends, over the words
    left non-empty (``sum(ls) / max(1, len(ls))`` with ``ls = [n for n in map(len, stripped) if n]``)."""
    # a word of letters and digits alone loses nothing when ``edge`` holds none: only the others are stripped
    odd = ws if any(map(str.isalnum, edge)) else list(filterfalse(str.isalnum, ws))
    lengths = list(map(len, map(str.strip, odd, repeat(edge))))
    return (sum(map(len, ws)) - sum(map(len, odd)) + sum(lengths)) / max(1, len(ws) - lengths.count(0))


def alpha_words(ws: list[str]) -> int:
    """``sum(any(ch.isalpha() for ch in w) for w in ws)``: words holding a letter (most are all letters)."""
    rest = list(filterfalse(str.isalpha, ws))
    return len(ws) - len(rest) + sum(any(map(str.isalpha, w)) for w in rest)


def count_in(ws: list[str], lowered: set[str]) -> int:
    """``sum(w.lower() in lowered for w in ws)``: occurrences of the words of ``lowered``, case-insensitively."""
    return sum(map(lowered.__contains__, map(str.lower, ws)))
