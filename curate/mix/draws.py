"""Deterministic per-document random draws: a keyed hash of (seed, *parts), independent of batching."""

from __future__ import annotations

import hashlib
import struct


def draw64(seed: int, *parts: object) -> int:
    """A uniformly distributed 64-bit integer fixed by ``seed`` and ``parts`` (e.g. a document id)."""
    h = hashlib.blake2b(digest_size=8, key=struct.pack("<q", seed), person=b"curate-draw")
    h.update("\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass"))
    return int.from_bytes(h.digest(), "little")


def unit(seed: int, *parts: object) -> float:
    """A draw in [0, 1) fixed by ``seed`` and ``parts``."""
    return draw64(seed, *parts) / 2.0**64
