"""Text units and shingles for dedup.

Words are ``re.findall(r"\\w+", text.lower())`` (the tokenisation ``shared/corpus/dedup`` uses for its
truth Jaccard); a shingle is ``ngram`` consecutive words. Text that is mostly CJK has no word spaces,
so it is shingled as ``cjk_ngram`` consecutive word characters instead. A document with fewer units
than the shingle size has one shingle: all of its units.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import numpy as np

_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
CJK_MIN_FRACTION = 0.3  # share of word characters that are CJK for character shingles

_MASK64 = (1 << 64) - 1
_MUL64 = 0x9E3779B97F4A7C15  # golden-ratio multiplier (Fibonacci hashing)
_SEED64 = 0xCBF29CE484222325


def _is_cjk(words: list[str]) -> bool:
    chars = "".join(words)
    return bool(chars) and len(_CJK.findall(chars)) >= CJK_MIN_FRACTION * len(chars)


def units(text: str | None, cjk_ngram: int = 3, ngram: int = 5) -> tuple[list[str], int, str]:
    """(units, shingle size, joiner): words and ``ngram``, or CJK characters and ``cjk_ngram`` when at
    least ``CJK_MIN_FRACTION`` of the word characters are CJK."""
    if not text:
        return [], ngram, " "
    words = _WORD.findall(text.lower())
    if _CJK.search(text) and _is_cjk(words):
        return list("".join(words)), cjk_ngram, ""
    return words, ngram, " "


@functools.lru_cache(maxsize=1)
def char_tables() -> tuple[np.ndarray, np.ndarray]:
    """(is_word, is_cjk) lookup tables over all code points, from the same regexes as ``units`` (matched as
    runs: one match per run of CJK characters, not per character)."""
    # every code point in one string, decoded from UTF-32: a join over chr() would build 1.1 M str objects
    # first (a ~100 MB transient in each process that hashes)
    every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    word = np.zeros(0x110000, np.bool_)
    for m in _WORD.finditer(every):
        word[m.start() : m.end()] = True
    cjk = np.zeros(0x110000, np.bool_)
    for m in re.finditer(f"(?:{_CJK.pattern})+", every):
        cjk[m.start() : m.end()] = True
    return word, cjk & word


def normalize(text: str | None) -> str:
    """Text as compared by exact dedup: lower-cased word characters, single-space separated."""
    return " ".join(_WORD.findall(text.lower())) if text else ""


def shingles(text: str | None, ngram: int = 5, cjk_ngram: int = 3) -> list[str]:
    """The shingles of ``text`` as strings (units joined by a space, or nothing for CJK)."""
    us, k, sep = units(text, cjk_ngram, ngram)
    if not us:
        return []
    if len(us) < k:
        return [sep.join(us)]
    return [sep.join(us[i : i + k]) for i in range(len(us) - k + 1)]


def fmix64(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK64
    return h ^ (h >> 33)


def unit_hash64(unit: str) -> int:
    """64-bit hash of a word or character: multiply-xor over code points, MurmurHash3 finaliser."""
    h = _SEED64
    for c in unit:
        h = ((h ^ ord(c)) * _MUL64) & _MASK64
    return fmix64(h ^ len(unit))


def combine64(unit_hashes: list[int]) -> int:
    """The 64-bit hash of a shingle from its units' hashes (``signature._shingle_hashes64`` computes the same)."""
    h = _SEED64
    for u in unit_hashes:
        h = ((h ^ u) * _MUL64) & _MASK64
    return h


def shingle_hash32(shingle_units: tuple[str, ...] | list[str]) -> int:
    """The ``fast`` mode shingle hash as a plain function: usable as ``datasketch.MinHash(hashfunc=...)``."""
    h = combine64([unit_hash64(u) for u in shingle_units])
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def char_batches(chars: np.ndarray, max_chars: int, max_docs: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive texts of ``chars[i]`` characters each, batched at most ``max_docs`` texts
    and, past a batch's first text, ``max_chars`` characters: what a hashing pass holds at once."""
    start, n = 0, len(chars)
    step = max_docs or n
    while start < n:
        ends = np.cumsum(chars[start : start + step], dtype=np.int64)
        end = start + max(1, int(np.searchsorted(ends, max_chars, side="right")))
        yield start, end
        start = end
