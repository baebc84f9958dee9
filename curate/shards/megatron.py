"""Megatron-LM indexed dataset (``.bin`` + ``.idx``, "MMIDIDX") writer and an independent reader.

Index layout (little endian), as written by Megatron-Core's ``_IndexWriter``:
``b"MMIDIDX\\x00\\x00"``, version ``<Q`` = 1, dtype code ``<B``, sequence count ``<Q``, document count
``<Q``, then int32 sequence lengths, int64 sequence byte offsets into ``.bin``, int64 document indices
(``[0, 1, ..., n]``: here every sequence is one document). No multimodal sequence modes.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np

HEADER = b"MMIDIDX\x00\x00"
VERSION = 1
DTYPE_CODES = {
    np.dtype(np.uint8): 1,
    np.dtype(np.int8): 2,
    np.dtype(np.int16): 3,
    np.dtype(np.int32): 4,
    np.dtype(np.int64): 5,
    np.dtype(np.float64): 6,
    np.dtype(np.float32): 7,
    np.dtype(np.uint16): 8,
}
CODE_DTYPES = {c: d for d, c in DTYPE_CODES.items()}


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocab < 65,536), else int32."""
    return np.dtype(np.uint16) if vocab_size < 65536 else np.dtype(np.int32)


class IndexedWriter:
    """Stream documents into ``<prefix>.bin``; ``close()`` writes ``<prefix>.idx``. ``tokens`` is a running
    total (O(1) per document) and the files' SHA-256 digests are computed as they are written."""

    def __init__(self, prefix: str | Path, dtype: np.dtype):
        self.prefix = Path(prefix)
        self.dtype = np.dtype(dtype)
        self._bin = open(self.prefix.with_suffix(".bin"), "wb")
        self._bin_hash = hashlib.sha256()
        self.lengths: list[int] = []
        self.tokens = 0
        self.bin_sha256 = self.idx_sha256 = ""

    def add(self, tokens: np.ndarray) -> None:
        arr = np.ascontiguousarray(tokens, dtype=self.dtype)
        data = arr.tobytes()
        self._bin.write(data)
        self._bin_hash.update(data)
        self.lengths.append(int(arr.size))
        self.tokens += int(arr.size)

    def close(self) -> None:
        self._bin.close()
        self.bin_sha256 = self._bin_hash.hexdigest()
        lengths = np.asarray(self.lengths, dtype=np.int32)
        pointers = np.zeros(len(lengths), dtype=np.int64)
        if len(lengths) > 1:
            np.cumsum(lengths[:-1].astype(np.int64) * self.dtype.itemsize, out=pointers[1:])
        doc_idx = np.arange(len(lengths) + 1, dtype=np.int64)
        idx = b"".join(
            [
                HEADER,
                struct.pack("<Q", VERSION),
                struct.pack("<B", DTYPE_CODES[self.dtype]),
                struct.pack("<Q", len(lengths)),
                struct.pack("<Q", len(doc_idx)),
                lengths.tobytes(),
                pointers.tobytes(),
                doc_idx.tobytes(),
            ]
        )
        self.prefix.with_suffix(".idx").write_bytes(idx)
        self.idx_sha256 = hashlib.sha256(idx).hexdigest()


class IndexedReader:
    """Read a Megatron ``.bin``/``.idx`` pair by memmap, without Megatron. ``reader[i]`` is sequence ``i``."""

    def __init__(self, prefix: str | Path):
        self.prefix = Path(prefix)
        idx = self.prefix.with_suffix(".idx").read_bytes()
        if idx[:9] != HEADER:
            raise ValueError(f"{self.prefix}.idx: not a Megatron MMIDIDX index (header {idx[:9]!r})")
        (version,) = struct.unpack_from("<Q", idx, 9)
        if version != VERSION:
            raise ValueError(f"{self.prefix}.idx: unsupported index version {version}")
        code = idx[17]
        if code not in CODE_DTYPES:
            raise ValueError(f"{self.prefix}.idx: unknown dtype code {code}")
        self.dtype = CODE_DTYPES[code]
        n_seq, n_doc = struct.unpack_from("<QQ", idx, 18)
        off = 34
        self.lengths = np.frombuffer(idx, np.int32, n_seq, off)
        off += 4 * n_seq
        self.pointers = np.frombuffer(idx, np.int64, n_seq, off)
        off += 8 * n_seq
        self.document_indices = np.frombuffer(idx, np.int64, n_doc, off)
        off += 8 * n_doc
        if off != len(idx):
            raise ValueError(f"{self.prefix}.idx: {len(idx) - off} unexpected trailing bytes")
        size = self.prefix.with_suffix(".bin").stat().st_size
        expected = int(self.lengths.astype(np.int64).sum()) * self.dtype.itemsize
        if size != expected:
            raise ValueError(f"{self.prefix}.bin: {size} bytes, index says {expected}")
        self.tokens = (
            np.memmap(self.prefix.with_suffix(".bin"), dtype=self.dtype, mode="r") if size else np.zeros(0, self.dtype)
        )

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        start = int(self.pointers[i]) // self.dtype.itemsize
        return self.tokens[start : start + int(self.lengths[i])]

    def locate(self, token: int) -> tuple[int, int]:
        """``(sequence index, offset within it)`` of the ``token``-th token of the ``.bin`` file."""
        if not 0 <= token < self.tokens.size:
            raise IndexError(f"token {token} out of range (shard has {self.tokens.size} tokens)")
        starts = self.pointers // self.dtype.itemsize
        seq = int(np.searchsorted(starts, token, side="right")) - 1
        return seq, token - int(starts[seq])
