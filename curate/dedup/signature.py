"""MinHash signatures in vectorised batches, bit-compatible with datasketch 2.x.

Permutations are datasketch's: ``a, b`` drawn from ``np.random.RandomState(seed)`` exactly as
``datasketch.MinHash._init_permutations`` draws them, for scheme ``affine32`` (datasketch's default
since 2.0: ``fmix32(h) * a + b mod 2^32``) or ``legacy`` (``(a * h + b) mod (2^61 - 1)`` masked to
32 bits, in wrapping uint64 arithmetic, as datasketch < 2.0). So ``datasketch.LeanMinHash(seed=seed,
hashvalues=sig, scheme=scheme)`` can be built from our rows and estimates agree.

Shingle hash modes:
- ``fast`` (default): whole-batch numpy passes over the batch's code points split words (same ``\\w``
  table as the regex), hash each word/character to 64 bits and combine ``ngram`` of them per shingle;
  no per-word or per-shingle Python string is built, which is what makes it fast. Equals
  ``datasketch.MinHash(hashfunc=shingle.shingle_hash32).update_batch(shingle tuples)``.
- ``sha1``: datasketch's default ``sha1_hash32`` of the UTF-8 shingle string, for signatures equal to
  ``datasketch.MinHash(num_perm, seed).update_batch([s.encode() for s in shingles])``. Slower (one
  SHA-1 per shingle), so not the default.
The per-permutation min over shingles runs in blocks of shingles for both modes (``_min_per_text``).

Plain numpy, no JIT: a process that hashes holds numpy's loops, not LLVM (numba's import and its
compiled or cache-loaded kernels cost a Ray worker ~100 MB of PSS resident and a ~150 MB transient).
Every loop in Python runs over a word's or a shingle's length, never over texts, words or shingles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from curate.dedup.common import estimate_jaccard  # noqa: F401 - numpy only, lives in common
from curate.dedup.shingle import CJK_MIN_FRACTION, char_batches, char_tables, shingles

_MERSENNE = np.uint64((1 << 61) - 1)
_SEED64 = np.uint64(0xCBF29CE484222325)
_MUL64 = np.uint64(0x9E3779B97F4A7C15)
_MUL, _MASK = int(_MUL64), (1 << 64) - 1
_FEW = 8  # units still unfinished below which _fold goes on in Python ints
_BLOCK = 1 << 20  # values (shingles x permutations) per block: a few MB at a time
_SET_CHARS = 1 << 18  # characters of text per shingle-set batch (as minhash.BATCH_CHARS for signatures)
SCHEMES = ("affine32", "legacy")
HASHES = ("fast", "sha1")


def permutations(num_perm: int, seed: int, scheme: str = "affine32") -> tuple[np.ndarray, np.ndarray]:
    """datasketch's permutation parameters ``(a, b)`` for ``num_perm`` and ``seed``."""
    gen = np.random.RandomState(seed)
    if scheme == "legacy":
        ab = np.array(
            [
                (gen.randint(1, _MERSENNE, dtype=np.uint64), gen.randint(0, _MERSENNE, dtype=np.uint64))
                for _ in range(num_perm)
            ],
            dtype=np.uint64,
        ).T
        return ab[0].copy(), ab[1].copy()
    if scheme != "affine32":
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _ragged(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices ``starts[i] .. starts[i] + lengths[i] - 1`` for every i, concatenated."""
    lengths = lengths.astype(np.int64)
    firsts = np.cumsum(lengths) - lengths
    return np.repeat(starts.astype(np.int64) - firsts, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


def _fold(h: np.ndarray, values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``h[i] = (h[i] ^ v) * MUL`` over ``values[starts[i] : starts[i] + lengths[i]]``, for every i at once:
    the i are visited longest first, so step ``j`` updates a prefix (one numpy pass per position). The last
    few long ones (a base64 blob, a run of underscores) finish in plain Python ints: one numpy pass per
    character of a single 1 M-character word would take seconds."""
    longest = int(lengths.max()) if len(lengths) else 0
    order = np.argsort((longest - lengths).astype(np.uint16 if longest < 1 << 16 else np.int64), kind="stable")
    pos, hs = starts[order], h[order]  # pos: where each one's next value is
    longer = len(lengths) - np.cumsum(np.bincount(lengths, minlength=longest + 1))  # [j]: how many longer than j
    for j in range(longest):
        n = int(longer[j])
        if n <= _FEW:
            for i in range(n):
                x = int(hs[i])
                for v in values[pos[i] : pos[i] + int(lengths[order[i]]) - j].tolist():
                    x = ((x ^ v) * _MUL) & _MASK
                hs[i] = x
            break
        hs[:n] ^= values[pos[:n]]
        hs[:n] *= _MUL64
        pos[:n] += 1
    out = np.empty_like(h)
    out[order] = hs
    return out


def _unit_hashes(texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashes of each text's units (= ``shingle.unit_hash64`` of ``shingle.units``), offsets, CJK flags."""
    lows = [t.lower() if t else "" for t in texts]
    n = len(texts)
    doff = np.zeros(n + 1, np.int64)
    np.cumsum([len(t) for t in lows], out=doff[1:])
    cps = np.frombuffer("".join(lows).encode("utf-32-le", "surrogatepass"), np.uint32)
    word_of, cjk_of = char_tables()
    word = word_of[cps]
    size = np.diff(doff)
    full = size > 0  # texts with characters (reduceat needs non-empty segments)
    nw, nc = np.zeros(n, np.int64), np.zeros(n, np.int64)
    if len(cps):
        nw[full] = np.add.reduceat(word, doff[:-1][full], dtype=np.int64)
        nc[full] = np.add.reduceat(word & cjk_of[cps], doff[:-1][full], dtype=np.int64)
    is_cjk = (nw > 0) & (nc >= CJK_MIN_FRACTION * nw)
    first = np.zeros(len(cps), np.bool_)  # a text's first character (texts are concatenated)
    first[doff[:-1][full]] = True
    last = np.zeros(len(cps), np.bool_)
    last[doff[1:][full] - 1] = True
    single = np.repeat(is_cjk, size)  # in a CJK text each word character is a unit of its own
    before, after = np.zeros_like(word), np.zeros_like(word)
    before[1:], after[:-1] = word[:-1], word[1:]
    starts = np.flatnonzero(word & (single | first | ~before))
    ends = np.flatnonzero(word & (single | last | ~after)) + 1
    lengths = ends - starts
    h = _fold(np.full(len(starts), _SEED64), cps, starts, lengths)
    uoff = np.searchsorted(starts, doff, side="left").astype(np.int64)
    return _fmix64(h ^ lengths.astype(np.uint64)), uoff, is_cjk


def _shingle_hashes64(uh: np.ndarray, uoff: np.ndarray, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each text's shingles as 64-bit hashes (``shingle.combine64`` of ``k`` unit hashes; a text with
    fewer units than ``k`` has one shingle of all of them), and per-text offsets (n + 1)."""
    m = np.diff(uoff)
    k = np.minimum(ks, m)
    cnt = np.where(m == 0, 0, m - k + 1)
    soff = np.zeros(len(m) + 1, np.int64)
    np.cumsum(cnt, out=soff[1:])
    starts = _ragged(uoff[:-1], cnt)
    lengths = np.repeat(k, cnt)
    return _fold(np.full(len(starts), _SEED64), uh, starts, lengths), soff


def _min_per_text(sh: np.ndarray, soff: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray, scheme: str) -> None:
    """``out[d, p]`` = min over text d's shingle hashes h of permutation p of h (``out`` starts all-max):
    blocks of shingles, each a (shingles x permutations) array of ``_BLOCK`` values, reduced per text."""
    if scheme == "affine32":
        h = sh.astype(np.uint32)  # MurmurHash3 fmix32, as datasketch pre-mixes; uint32 arithmetic wraps mod 2^32
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    else:
        h = sh.astype(np.uint64)
    doc = np.repeat(np.arange(len(soff) - 1, dtype=np.int64), np.diff(soff))
    step = max(1, _BLOCK // max(1, len(a)))
    for s in range(0, len(h), step):  # (permutations x shingles): reduceat runs along contiguous rows
        hb, db = h[None, s : s + step], doc[s : s + step]
        v = a[:, None] * hb
        v += b[:, None]
        if scheme != "affine32":  # (a * h + b) % (2^61 - 1) in wrapping uint64 arithmetic, low 32 bits
            v %= _MERSENNE
            v &= np.uint64(0xFFFFFFFF)
        seg = np.concatenate([[0], np.flatnonzero(np.diff(db)) + 1])
        rows = db[seg]
        out[rows] = np.minimum(out[rows], np.minimum.reduceat(v, seg, axis=1).T.astype(out.dtype))


def _sha1_32(s: str) -> int:
    return int.from_bytes(hashlib.sha1(s.encode("utf-8", "surrogatepass")).digest()[:4], "little")


class MinHasher:
    """Computes MinHash signatures for batches of texts; one row per text, ``dtype`` uint32 (affine32)
    or uint64 (legacy, as datasketch stores it). A text without shingles gets the all-max row
    (``empty_rows`` finds them)."""

    def __init__(
        self,
        num_perm: int = 128,
        seed: int = 1,
        ngram: int = 5,
        cjk_ngram: int = 3,
        hash: str = "fast",
        scheme: str = "affine32",
    ):
        if hash not in HASHES:
            raise ValueError(f"hash must be one of {HASHES}, got {hash!r}")
        self.num_perm, self.seed, self.ngram, self.cjk_ngram = num_perm, seed, ngram, cjk_ngram
        self.hash, self.scheme = hash, scheme
        self.a, self.b = permutations(num_perm, seed, scheme)
        self.dtype = np.uint32 if scheme == "affine32" else np.uint64

    def shingle_hashes(self, texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """32-bit shingle hashes of all texts, concatenated, and per-text offsets (n + 1)."""
        if self.hash == "sha1":
            per_doc = [[_sha1_32(s) for s in shingles(t, self.ngram, self.cjk_ngram)] for t in texts]
            off = np.zeros(len(texts) + 1, np.int64)
            np.cumsum([len(h) for h in per_doc], out=off[1:])
            flat = np.fromiter((h for hs in per_doc for h in hs), np.uint32, count=int(off[-1]))
            return flat, off
        uh, uoff, is_cjk = _unit_hashes(texts)
        h, soff = _shingle_hashes64(uh, uoff, np.where(is_cjk, self.cjk_ngram, self.ngram).astype(np.int64))
        return ((h ^ (h >> np.uint64(32))) & np.uint64(0xFFFFFFFF)).astype(np.uint32), soff

    def signatures(self, texts: Sequence[str | None]) -> np.ndarray:
        sh, soff = self.shingle_hashes(texts)
        out = np.full((len(texts), self.num_perm), np.iinfo(np.uint32).max, self.dtype)
        _min_per_text(sh, soff, self.a, self.b, out, self.scheme)
        return out

    def empty_rows(self, sigs: np.ndarray) -> np.ndarray:
        return (sigs == np.iinfo(np.uint32).max).all(axis=1)

    def lean(self, row: np.ndarray):
        """A ``datasketch.LeanMinHash`` holding one of our signature rows."""
        from datasketch import LeanMinHash

        return LeanMinHash(seed=self.seed, hashvalues=row, scheme=self.scheme)


def shingle_sets(texts: Sequence[str | None], ngram: int = 5, cjk_ngram: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The shingle sets of ``shingle.shingles`` as sorted 64-bit hashes (flat values, offsets n + 1): exact
    Jaccard up to 64-bit collisions, without building a string per shingle. Texts go in batches of
    ``_SET_CHARS`` characters, so what this holds besides the sets is bounded whatever the texts."""
    values, sizes = [], []
    for s, e in char_batches(np.array([len(t) if t else 0 for t in texts], np.int64), _SET_CHARS):
        v, o = _shingle_sets(texts[s:e], ngram, cjk_ngram)
        values.append(v)
        sizes.append(np.diff(o))
    off = np.zeros(len(texts) + 1, np.int64)
    if sizes:
        np.cumsum(np.concatenate(sizes), out=off[1:])
    return (np.concatenate(values) if values else np.zeros(0, np.uint64)), off


def _shingle_sets(texts: Sequence[str | None], ngram: int, cjk_ngram: int) -> tuple[np.ndarray, np.ndarray]:
    uh, uoff, is_cjk = _unit_hashes(texts)
    sh, soff = _shingle_hashes64(uh, uoff, np.where(is_cjk, cjk_ngram, ngram).astype(np.int64))
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(soff))
    order = np.lexsort((sh, doc))
    sh, doc = sh[order], doc[order]
    keep = np.ones(len(sh), np.bool_)
    keep[1:] = (sh[1:] != sh[:-1]) | (doc[1:] != doc[:-1])
    off = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.bincount(doc[keep], minlength=len(texts)), out=off[1:])
    return sh[keep], off


def jaccards(
    va: np.ndarray, oa: np.ndarray, ia: np.ndarray, vb: np.ndarray, ob: np.ndarray, ib: np.ndarray
) -> np.ndarray:
    """Jaccard of set ``ia[k]`` of (va, oa) with set ``ib[k]`` of (vb, ob); sets are sorted, unique.

    One binary search of the smaller set in the larger per pair: a few numpy calls a pair and no copy of
    the sets (a sort of every pair's elements at once cost 8x the CPU on the sample's texts)."""
    out = np.zeros(len(ia), np.float32)
    for k in range(len(ia)):
        a, b = va[oa[ia[k]] : oa[ia[k] + 1]], vb[ob[ib[k]] : ob[ib[k] + 1]]
        if len(a) > len(b):
            a, b = b, a
        common = 0
        if len(a):
            at = np.searchsorted(b, a)
            at[at == len(b)] = 0
            common = int(np.count_nonzero(b[at] == a))
        union = len(a) + len(b) - common
        out[k] = common / union if union else 0.0
    return out
