"""Dedup test data from the real corpus (books, wiki and web texts of ``shared/corpus``):

- ``planted_pairs``: originals and one near copy each, edited (words substituted, deleted or inserted,
  all taken from real text) until the copy's exact word 5-gram Jaccard with its original (the formula of
  ``shared/corpus/dedup/README.md``) hits a target drawn uniformly from [lo, hi];
- ``scale_docs``: documents for the scale benchmark, each a function of its index (so any task can make
  any part): real chunks with their words shuffled (not duplicates of each other), 5% exact copies and
  5% near copies (a few percent of words substituted) of earlier documents.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

import numpy as np

CORPUS = Path(os.environ.get("CURATE_TEST_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"))
_WORD = re.compile(r"\w+")
_PG_START = re.compile(r"\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG.*", re.I)
_PG_END = re.compile(r"\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG", re.I)


def shingle_set(text: str) -> set[tuple[str, ...]]:
    t = _WORD.findall(text.lower())
    return {tuple(t[i : i + 5]) for i in range(len(t) - 4)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _book_body(path: Path) -> str:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    text = text.replace("\r\n", "\n")
    start, end = _PG_START.search(text), _PG_END.search(text)
    return text[start.end() if start else 0 : end.start() if end else len(text)]


@functools.lru_cache(maxsize=4)
def real_chunks(min_words: int = 150, max_words: int = 400) -> tuple[str, ...]:
    """Runs of consecutive book paragraphs (Project Gutenberg header and licence cut off) and the real
    originals of the planted set (wiki articles, web main texts), each ``min_words``..``max_words`` words."""
    out: list[str] = []
    for path in sorted((CORPUS / "books").glob("*.txt")):
        cur: list[str] = []
        n = 0
        for para in re.split(r"\n\s*\n", _book_body(path)):
            words = len(para.split())
            if n + words > max_words and n >= min_words:
                out.append("\n\n".join(cur))
                cur, n = [], 0
            if words <= max_words:
                cur.append(para.strip())
                n += words
    sources = {r["id"]: r for r in map(json.loads, (CORPUS / "dedup" / "sources.jsonl").open())}
    for r in map(json.loads, (CORPUS / "dedup" / "docs.jsonl").open()):
        s = sources[r["id"]]  # its book passages overlap the chunks above: wiki and web texts only
        if s["kind"] == "original" and s["source"]["corpus"] != "books" and len(r["text"].split()) >= min_words:
            out.append(r["text"])
    seen, unique = set(), []
    for t in out:  # chapters that repeat a paragraph run exactly would be duplicates of each other
        key = " ".join(_WORD.findall(t.lower()))
        if key not in seen:
            seen.add(key)
            unique.append(t)
    return tuple(unique)


def _edited(words: list[str], ops: list[tuple[int, int, str]], k: int) -> str:
    out = list(words)
    for op, pos, word in sorted(ops[:k], key=lambda o: -o[1]):  # right to left: positions stay valid
        if op == 2:
            out.insert(pos, word)
        elif pos < len(out):  # an earlier delete at the same position may have shortened the tail
            if op == 0:
                out[pos] = word
            else:
                del out[pos]
    return " ".join(out)


def near_copy(
    text: str, target: float, donor: str, rng: np.random.Generator, tol: float = 0.004
) -> tuple[str, float] | None:
    """A copy of ``text`` whose exact 5-gram Jaccard with it is within ``tol`` of ``target``, or None."""
    words = text.split()
    pool = words + donor.split()  # substituted and inserted words: from this text or another real one
    if len(words) < 50:
        return None
    ops = [
        (int(rng.integers(3)), int(rng.integers(len(words))), pool[int(rng.integers(len(pool)))])
        for _ in range(len(words) // 2)
    ]
    base = shingle_set(text)
    lo, hi = 0, len(ops)
    best = None
    while lo <= hi:  # Jaccard falls (almost monotonically) with the number of edits applied
        mid = (lo + hi) // 2
        copy = _edited(words, ops, mid)
        j = jaccard(base, shingle_set(copy))
        if best is None or abs(j - target) < abs(best[1] - target):
            best = (copy, j)
        if j > target:
            lo = mid + 1
        else:
            hi = mid - 1
    return best if best and abs(best[1] - target) <= tol else None


def planted_pairs(n_pairs: int, lo: float = 0.80, hi: float = 0.95, seed: int = 0) -> list[dict]:
    """Documents: ``n_pairs`` originals (id ``o...``) and their near copies (id ``p...``, kind ``web``,
    meta-free) with ``jaccard`` (exact) and ``duplicate_of``; originals keep their corpus as kind."""
    chunks = real_chunks()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(chunks))
    docs: list[dict] = []
    for i in order:
        if len(docs) >= 2 * n_pairs:
            break
        target = float(rng.uniform(lo, hi))
        donor = chunks[int(order[(len(docs) * 7 + 1) % len(order)])]
        made = near_copy(chunks[i], target, donor, rng)
        if made is None or not lo <= made[1] <= hi:
            continue
        n = len(docs) // 2
        docs.append(
            {"id": f"o{n:05d}", "source": "corpus", "kind": "books", "url": None, "text": chunks[i], "meta": {}}
        )
        docs.append(
            {
                "id": f"p{n:05d}",
                "source": "planted",
                "kind": "web",
                "url": None,
                "text": made[0],
                "meta": {},
                "duplicate_of": f"o{n:05d}",
                "jaccard": round(made[1], 4),
            }
        )
    if len(docs) < 2 * n_pairs:
        raise ValueError(f"only {len(docs) // 2} pairs could be planted from {len(chunks)} real chunks")
    return docs


def scale_doc(i: int, chunks: tuple[str, ...]) -> tuple[str, str]:
    """(id, text) of document ``i`` of the scale set (see the module doc)."""
    rng = np.random.default_rng(i)
    r = rng.random()
    if i > 100 and r < 0.10:
        text = scale_doc(int(rng.integers(i)), chunks)[1]
        if r < 0.05:
            return f"d{i:09d}", text
        words = text.split()
        for p in rng.integers(len(words), size=max(1, len(words) // 40)):
            words[p] = words[int(rng.integers(len(words)))]
        return f"d{i:09d}", " ".join(words)
    words = chunks[i % len(chunks)].split()
    return f"d{i:09d}", " ".join(words[j] for j in rng.permutation(len(words)))
