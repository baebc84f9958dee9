"""MinHash signatures in vectorised batches, bit-compatible with datasketch 2.x.

Permutations are datasketch's: ``a, b`` drawn from ``np.random.RandomState(seed)`` exactly as
``datasketch.MinHash._init_permutations`` draws them, for scheme ``affine32`` (datasketch's default
since 2.0: ``fmix32(h) * a + b mod 2^32``) or ``legacy`` (``(a * h + b) mod (2^61 - 1)`` masked to
32 bits, in wrapping uint64 arithmetic, as datasketch < 2.0). So ``datasketch.LeanMinHash(seed=seed,
hashvalues=sig, scheme=scheme)`` can be built from our rows and estimates agree.

Shingle hash modes:
- ``fast`` (default): one numba pass over the batch's code points splits words (same ``\\w`` table
  as the regex), hashes each word/character to 64 bits and combines ``ngram`` of them per shingle;
  no per-word or per-shingle Python string is built, which is what makes it fast. Equals
  ``datasketch.MinHash(hashfunc=shingle.shingle_hash32).update_batch(shingle tuples)``.
- ``sha1``: datasketch's default ``sha1_hash32`` of the UTF-8 shingle string, for signatures equal to
  ``datasketch.MinHash(num_perm, seed).update_batch([s.encode() for s in shingles])``. Slower (one
  SHA-1 per shingle), so not the default.
The per-permutation min over shingles runs in the same numba kernel for both modes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numba
import numpy as np

from curate.dedup.common import estimate_jaccard  # noqa: F401 - numpy only, lives in common
from curate.dedup.shingle import CJK_MIN_FRACTION, char_tables, shingles

_MERSENNE = np.uint64((1 << 61) - 1)
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


@numba.njit(cache=True, inline="always")
def _fmix64(h):
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


@numba.njit(cache=True)
def _unit_hashes(
    cps: np.ndarray, doff: np.ndarray, word: np.ndarray, cjk: np.ndarray, cjk_frac: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashes of each text's units (= ``shingle.unit_hash64`` of ``shingle.units``), offsets, CJK flags."""
    n = doff.shape[0] - 1
    uh = np.empty(cps.shape[0], np.uint64)
    uoff = np.zeros(n + 1, np.int64)
    is_cjk = np.zeros(n, np.bool_)
    seed, mul = np.uint64(0xCBF29CE484222325), np.uint64(0x9E3779B97F4A7C15)
    u = 0
    for d in range(n):
        nw = 0
        nc = 0
        for i in range(doff[d], doff[d + 1]):
            c = cps[i]
            if word[c]:
                nw += 1
                if cjk[c]:
                    nc += 1
        is_cjk[d] = nw > 0 and nc >= cjk_frac * nw
        h = seed
        ln = 0
        for i in range(doff[d], doff[d + 1]):
            c = cps[i]
            if word[c]:
                h = (h ^ np.uint64(c)) * mul
                ln += 1
                if is_cjk[d]:
                    uh[u] = _fmix64(h ^ np.uint64(1))
                    u += 1
                    h = seed
                    ln = 0
            elif ln > 0:
                uh[u] = _fmix64(h ^ np.uint64(ln))
                u += 1
                h = seed
                ln = 0
        if ln > 0:
            uh[u] = _fmix64(h ^ np.uint64(ln))
            u += 1
        uoff[d + 1] = u
    return uh[:u], uoff, is_cjk


@numba.njit(cache=True)
def _shingle_hashes(uh: np.ndarray, uoff: np.ndarray, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = uoff.shape[0] - 1
    soff = np.zeros(n + 1, np.int64)
    for d in range(n):
        m = uoff[d + 1] - uoff[d]
        cnt = 0 if m == 0 else (1 if m < ks[d] else m - ks[d] + 1)
        soff[d + 1] = soff[d] + cnt
    out = np.empty(soff[n], np.uint32)
    mul = np.uint64(0x9E3779B97F4A7C15)
    for d in range(n):
        s0, m = uoff[d], uoff[d + 1] - uoff[d]
        k = min(ks[d], m)
        for i in range(soff[d + 1] - soff[d]):
            h = np.uint64(0xCBF29CE484222325)
            for j in range(k):
                h = (h ^ uh[s0 + i + j]) * mul
            out[soff[d] + i] = np.uint32((h ^ (h >> np.uint64(32))) & np.uint64(0xFFFFFFFF))
    return out, soff


@numba.njit(cache=True)
def _minhash_affine32(sh: np.ndarray, soff: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    m32 = np.uint64(0xFFFFFFFF)
    a64 = a.astype(np.uint64)
    b64 = b.astype(np.uint64)
    num_perm = a.shape[0]
    row = np.empty(num_perm, np.uint64)
    for d in range(soff.shape[0] - 1):
        row[:] = m32
        for i in range(soff[d], soff[d + 1]):
            h = np.uint64(sh[i])  # MurmurHash3 fmix32, as datasketch pre-mixes
            h ^= h >> np.uint64(16)
            h = (h * np.uint64(0x85EBCA6B)) & m32
            h ^= h >> np.uint64(13)
            h = (h * np.uint64(0xC2B2AE35)) & m32
            h ^= h >> np.uint64(16)
            for p in range(num_perm):
                v = (a64[p] * h + b64[p]) & m32
                if v < row[p]:
                    row[p] = v
        for p in range(num_perm):
            out[d, p] = np.uint32(row[p])


@numba.njit(cache=True)
def _minhash_legacy(sh: np.ndarray, soff: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    prime = np.uint64((1 << 61) - 1)
    m32 = np.uint64(0xFFFFFFFF)
    num_perm = a.shape[0]
    for d in range(soff.shape[0] - 1):
        out[d, :] = m32
        for i in range(soff[d], soff[d + 1]):
            h = np.uint64(sh[i])
            for p in range(num_perm):
                v = ((a[p] * h + b[p]) % prime) & m32  # uint64 wraps like numpy's
                if v < out[d, p]:
                    out[d, p] = v


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
        lows = [t.lower() if t else "" for t in texts]
        doff = np.zeros(len(texts) + 1, np.int64)
        np.cumsum([len(t) for t in lows], out=doff[1:])
        cps = np.frombuffer("".join(lows).encode("utf-32-le", "surrogatepass"), np.uint32)
        uh, uoff, is_cjk = _unit_hashes(cps, doff, *char_tables(), CJK_MIN_FRACTION)
        return _shingle_hashes(uh, uoff, np.where(is_cjk, self.cjk_ngram, self.ngram).astype(np.int64))

    def signatures(self, texts: Sequence[str | None]) -> np.ndarray:
        sh, soff = self.shingle_hashes(texts)
        out = np.empty((len(texts), self.num_perm), self.dtype)
        (_minhash_affine32 if self.scheme == "affine32" else _minhash_legacy)(sh, soff, self.a, self.b, out)
        return out

    def empty_rows(self, sigs: np.ndarray) -> np.ndarray:
        return (sigs == np.iinfo(np.uint32).max).all(axis=1)

    def lean(self, row: np.ndarray):
        """A ``datasketch.LeanMinHash`` holding one of our signature rows."""
        from datasketch import LeanMinHash

        return LeanMinHash(seed=self.seed, hashvalues=row, scheme=self.scheme)


@numba.njit(cache=True)
def _sorted_shingle_sets(uh: np.ndarray, uoff: np.ndarray, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per text, its 64-bit shingle hashes sorted and without repeats (flat values, offsets)."""
    n = uoff.shape[0] - 1
    cap = 0
    for d in range(n):
        m = uoff[d + 1] - uoff[d]
        cap += 0 if m == 0 else (1 if m < ks[d] else m - ks[d] + 1)
    out = np.empty(cap, np.uint64)
    off = np.zeros(n + 1, np.int64)
    mul = np.uint64(0x9E3779B97F4A7C15)
    pos = 0
    for d in range(n):
        s0, m = uoff[d], uoff[d + 1] - uoff[d]
        k = min(ks[d], m)
        cnt = 0 if m == 0 else m - k + 1
        buf = np.empty(cnt, np.uint64)
        for i in range(cnt):
            h = np.uint64(0xCBF29CE484222325)
            for j in range(k):
                h = (h ^ uh[s0 + i + j]) * mul
            buf[i] = h
        buf.sort()
        for i in range(cnt):
            if i == 0 or buf[i] != buf[i - 1]:
                out[pos] = buf[i]
                pos += 1
        off[d + 1] = pos
    return out[:pos], off


def shingle_sets(texts: Sequence[str | None], ngram: int = 5, cjk_ngram: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The shingle sets of ``shingle.shingles`` as sorted 64-bit hashes (flat values, offsets n + 1): exact
    Jaccard up to 64-bit collisions, without building a string per shingle."""
    lows = [t.lower() if t else "" for t in texts]
    doff = np.zeros(len(texts) + 1, np.int64)
    np.cumsum([len(t) for t in lows], out=doff[1:])
    cps = np.frombuffer("".join(lows).encode("utf-32-le", "surrogatepass"), np.uint32)
    uh, uoff, is_cjk = _unit_hashes(cps, doff, *char_tables(), CJK_MIN_FRACTION)
    return _sorted_shingle_sets(uh, uoff, np.where(is_cjk, cjk_ngram, ngram).astype(np.int64))


@numba.njit(cache=True)
def jaccards(
    va: np.ndarray, oa: np.ndarray, ia: np.ndarray, vb: np.ndarray, ob: np.ndarray, ib: np.ndarray
) -> np.ndarray:
    """Jaccard of set ``ia[k]`` of (va, oa) with set ``ib[k]`` of (vb, ob); sets are sorted, unique."""
    out = np.zeros(ia.shape[0], np.float32)
    for k in range(ia.shape[0]):
        i, iend = oa[ia[k]], oa[ia[k] + 1]
        j, jend = ob[ib[k]], ob[ib[k] + 1]
        na, nb = iend - i, jend - j
        common = 0
        while i < iend and j < jend:
            if va[i] == vb[j]:
                common += 1
                i += 1
                j += 1
            elif va[i] < vb[j]:
                i += 1
            else:
                j += 1
        union = na + nb - common
        out[k] = common / union if union else 0.0
    return out
