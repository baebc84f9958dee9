"""Near-duplicate removal: MinHash + LSH, distributed over Ray tasks through ``FitContext``.

fit, in passes (every intermediate is a file under ``ctx.workdir``; results do not depend on how many
tasks run them, since all ids are global doc indices = part offset + row):
1. one task per part: signatures (``signature.MinHasher``) -> ``sig/pNNNNN.npy``, (id, rank) ->
   ``meta/pNNNNN.parquet``;
2. one task per band group: bucket by band, candidate edges -> ``edges/gNNNNN.npy`` (``lsh.bucket_bands``);
3. optional ``verify``: tasks over edge chunks compute the exact shingle Jaccard of each candidate
   pair from the two texts (reading only those rows) and drop pairs below ``threshold``;
4. connected components by distributed label propagation (``lsh.components``);
5. per component the survivor is the best rank (``priority`` by kind, else source name), then the
   smallest id; each other member is removed with ``dup_of`` = survivor and ``dup_sim`` = the MinHash
   estimate of its Jaccard with the survivor (tasks over chunks read the two signature rows).
"""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.dedup import lsh
from curate.dedup.common import DEFAULT_PRIORITY, drop_removed, ranks, read_part, write_removals
from curate.dedup.shingle import shingles
from curate.dedup.signature import MinHasher, estimate_jaccard
from curate.recipe import bounds
from curate.stage import FitContext, Stage, StageResult

SIG_DOCS_PER_S_CORE = 12_000  # bench/dedup.py, ~2.4 KB docs, on the shared dev box; used only for the estimate
BATCH = 2048


def estimate(n_docs: int, num_perm: int, bands: int, rows: int, tasks: int, avg_edges_per_doc: float = 0.2,
             docs_per_s_core: float = SIG_DOCS_PER_S_CORE) -> dict:
    """Rough disk/memory/time needs of a run, printed before it starts."""
    sig_bytes = n_docs * num_perm * 4
    bands_per_task = -(-bands // max(1, tasks))
    return {
        "docs": n_docs, "bands": bands, "rows": rows, "tasks": tasks,
        "signature_disk_mb": round(sig_bytes / 2**20, 1),
        # a band task holds (key, index, sort order) for all docs of one band at a time, plus its edges
        "peak_mb_per_band_task": round((n_docs * 8 * 3 + n_docs * rows * 4
                                        + n_docs * avg_edges_per_doc * 16 * bands_per_task) / 2**20, 1),
        "peak_mb_per_signature_task": round(BATCH * (num_perm * 8 + 4096 * 16) / 2**20, 1),
        "driver_mb": round(n_docs * avg_edges_per_doc * (16 + 8 + 64) / 2**20, 1),
        "signature_cpu_s": round(n_docs / docs_per_s_core, 1),
    }


def _signatures(item: tuple[int, Path], workdir: Path, hasher: dict, priority: list[str]) -> dict:
    i, path = item
    t = read_part(path, ["id", "source", "kind", "text"])
    mh = MinHasher(**hasher)
    texts = t.column("text").to_pylist()
    sig = np.empty((len(texts), mh.num_perm), np.uint32)
    for s in range(0, len(texts), BATCH):
        sig[s:s + BATCH] = mh.signatures(texts[s:s + BATCH])
    np.save(workdir / "sig" / f"p{i:05d}.npy", sig)
    rk = ranks(t.column("kind").to_pylist(), t.column("source").to_pylist(), priority)
    pq.write_table(pa.table({"id": t.column("id"), "rank": rk}), workdir / "meta" / f"p{i:05d}.parquet")
    return {"rows": len(texts), "empty": int(mh.empty_rows(sig).sum())}


def _locate(gidx: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    part = np.searchsorted(offsets, gidx, "right") - 1
    return part, gidx - offsets[part]


def _texts(gidx: np.ndarray, parts: list[str], offsets: np.ndarray) -> dict[int, str | None]:
    """Texts of the given global doc indices, reading only those rows' part files."""
    out: dict[int, str | None] = {}
    part, row = _locate(np.unique(gidx), offsets)
    for p in np.unique(part):
        sel = part == p
        col = read_part(parts[p], ["text"]).column("text").take(pa.array(row[sel]))
        out.update(zip((row[sel] + offsets[p]).tolist(), col.to_pylist()))
    return out


def _verify(edges: np.ndarray, parts: list[str], offsets: np.ndarray, ngram: int, cjk_ngram: int) -> np.ndarray:
    """Exact shingle Jaccard of each candidate pair."""
    texts = _texts(edges.ravel(), parts, offsets)
    sets = {g: set(shingles(t, ngram, cjk_ngram)) for g, t in texts.items()}
    out = np.empty(len(edges), np.float32)
    for k, (u, v) in enumerate(edges.tolist()):
        a, b = sets[u], sets[v]
        out[k] = len(a & b) / len(a | b) if a or b else 0.0
    return out


def _sims(pairs: np.ndarray, sig_files: list[str], offsets: np.ndarray) -> np.ndarray:
    """MinHash Jaccard estimate of each (removed, kept) pair, reading only those signature rows."""
    rows = {}
    part, row = _locate(np.unique(pairs.ravel()), offsets)
    for p in np.unique(part):
        sig = np.load(sig_files[p], mmap_mode="r")
        sel = row[part == p]
        rows.update(zip((sel + offsets[p]).tolist(), np.asarray(sig[sel])))
    return np.array([estimate_jaccard(rows[u], rows[v]) for u, v in pairs.tolist()], np.float32)


def _chunks(a: np.ndarray, n: int) -> list[np.ndarray]:
    return [c for c in np.array_split(a, max(1, n)) if len(c)] if len(a) else []


class MinHashDedupStage(Stage):
    """Drops near-duplicates (reason ``dedup:near``, meta ``dup_of`` and ``dup_sim``)."""

    name = "dedup"

    @dataclass
    class Config:
        threshold: float = field(default=0.8, metadata=bounds(gt=0, le=1))
        num_perm: int = field(default=128, metadata=bounds(ge=1))
        ngram: int = field(default=5, metadata=bounds(ge=1))  # words per shingle
        cjk_ngram: int = field(default=3, metadata=bounds(ge=1))  # characters per shingle for mostly-CJK text
        seed: int = 1
        hash: str = "fast"  # or "sha1": signatures equal to datasketch's default hashfunc, slower
        scheme: str = "affine32"  # datasketch's permutation scheme: "affine32" (its default) or "legacy"
        # with rows: override datasketch's optimal (bands, rows)
        bands: int | None = field(default=None, metadata=bounds(ge=1))
        rows: int | None = field(default=None, metadata=bounds(ge=1))
        fp_weight: float = field(default=0.5, metadata=bounds(ge=0))
        fn_weight: float = field(default=0.5, metadata=bounds(ge=0))
        verify: bool = True  # exact Jaccard check of candidate pairs (reads their texts)
        priority: list[str] = field(default_factory=lambda: list(DEFAULT_PRIORITY))
        # band groups / edge chunks (default: one per part, at most bands)
        tasks: int | None = field(default=None, metadata=bounds(ge=1))

    def lsh_params(self) -> tuple[int, int]:
        c = self.config
        if c.bands and c.rows:
            if c.bands * c.rows > c.num_perm:
                raise ValueError(f"bands*rows = {c.bands * c.rows} exceeds num_perm = {c.num_perm}")
            return c.bands, c.rows
        return lsh.params(c.threshold, c.num_perm, c.fp_weight, c.fn_weight)

    def fit(self, ctx: FitContext) -> dict:
        c = self.config
        bands, rows = self.lsh_params()
        tasks = max(1, min(bands, c.tasks or len(ctx.parts)))
        n_est = sum(pq.ParquetFile(p).metadata.num_rows for p in ctx.parts)
        ctx.log(f"dedup: estimate {estimate(n_est, c.num_perm, bands, rows, tasks)}")
        wd = Path(ctx.workdir)
        for sub in ("sig", "meta", "edges"):
            (wd / sub).mkdir(parents=True, exist_ok=True)
        hasher = dict(num_perm=c.num_perm, seed=c.seed, ngram=c.ngram, cjk_ngram=c.cjk_ngram, hash=c.hash,
                      scheme=c.scheme)
        done = ctx.map(functools.partial(_signatures, workdir=wd, hasher=hasher, priority=c.priority),
                       list(enumerate(ctx.parts)))
        offsets = np.concatenate([[0], np.cumsum([d["rows"] for d in done])]).astype(np.int64)
        sig_files = [str(wd / "sig" / f"p{i:05d}.npy") for i in range(len(ctx.parts))]
        groups = [list(g) for g in np.array_split(np.arange(bands), tasks)]
        ctx.map(functools.partial(_bucket_group, sig_files=sig_files, offsets=offsets[:-1].tolist(), rows=rows,
                                  workdir=str(wd)), list(enumerate(groups)))
        edges = np.concatenate([np.load(wd / "edges" / f"g{g:05d}.npy") for g in range(len(groups))])
        edges = np.unique(edges, axis=0) if len(edges) else edges.reshape(0, 2)
        candidates = len(edges)
        parts = [str(p) for p in ctx.parts]
        jac = None
        if c.verify and len(edges):
            jac = np.concatenate(ctx.map(functools.partial(_verify, parts=parts, offsets=offsets, ngram=c.ngram,
                                                           cjk_ngram=c.cjk_ngram), _chunks(edges, tasks)))
            edges, jac = edges[jac >= c.threshold], jac[jac >= c.threshold]
        removed, dup_of, pairs, sizes, rounds = self._survivors(ctx, wd, edges, offsets, tasks)
        sims = (np.concatenate(ctx.map(functools.partial(_sims, sig_files=sig_files, offsets=offsets),
                                       _chunks(pairs, tasks))) if len(pairs) else np.empty(0, np.float32))
        state = write_removals(wd / "removed", removed, dup_of, sims)
        state["summary"] = {
            "docs": int(offsets[-1]), "no_shingles": sum(d["empty"] for d in done), "bands": bands, "rows": rows,
            "candidate_pairs": candidates, "verified_pairs": int(len(edges)) if c.verify else None,
            "label_rounds": rounds, "removed": len(removed), "clusters": sum(sizes.values()),
            "cluster_sizes": {str(k): v for k, v in sorted(sizes.items())},
            "examples": [{"removed": r, "kept": k, "est_jaccard": round(float(s), 4)}
                         for r, k, s in sorted(zip(removed, dup_of, sims.tolist()))[:5]],
        }
        ctx.log(f"dedup: {len(removed)} near-duplicates removed in {state['summary']['clusters']} clusters "
                f"({candidates} candidate pairs, bands={bands} rows={rows})")
        return state

    def _survivors(self, ctx: FitContext, wd: Path, edges: np.ndarray, offsets: np.ndarray, tasks: int):
        nodes = np.unique(edges)
        local = np.searchsorted(nodes, edges)
        edge_files = []
        for i, chunk in enumerate(_chunks(local, tasks)):
            edge_files.append(str(wd / "edges" / f"cc{i:05d}.npy"))
            np.save(edge_files[-1], chunk)
        labels, rounds = lsh.components(edge_files, len(nodes), wd, ctx.map)
        ids, rank = [], []
        part, row = _locate(nodes, offsets)
        for p in np.unique(part):
            t = read_part(wd / "meta" / f"p{p:05d}.parquet", ["id", "rank"]).take(pa.array(row[part == p]))
            ids += t.column("id").to_pylist()
            rank += t.column("rank").to_pylist()
        ids_a = np.array(ids, dtype=object)
        order = np.lexsort((ids_a.astype(str), np.array(rank), labels)) if len(nodes) else np.empty(0, int)
        lab = labels[order]
        start = np.ones(len(order), bool)
        start[1:] = lab[1:] != lab[:-1]
        first = order[np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))]
        gone, keep_of = order[~start], first[~start]
        distinct = ids_a[gone] != ids_a[keep_of]  # a repeated id cannot be dropped without its survivor
        gone, keep_of = gone[distinct], keep_of[distinct]
        sizes = Counter(np.diff(np.append(np.flatnonzero(start), len(order))).tolist())
        pairs = np.stack([nodes[gone], nodes[keep_of]], axis=1) if len(gone) else np.empty((0, 2), np.int64)
        return ids_a[gone].tolist(), ids_a[keep_of].tolist(), pairs, sizes, rounds

    def apply(self, batch: pa.Table, state: dict) -> StageResult:
        return drop_removed(batch, state, "dedup:near", self.name)


def _bucket_group(item: tuple[int, list[int]], sig_files: list[str], offsets: list[int], rows: int,
                  workdir: str) -> int:
    g, bands = item
    return lsh.bucket_bands(bands, sig_files, offsets, rows, str(Path(workdir) / "edges" / f"g{g:05d}.npy"))


def dedup_files(inputs: list[str], output: str, threshold: float = 0.8, dropped: str | None = None,
                **config) -> dict:
    """Standalone exact + near dedup of JSONL/Parquet files; see ``curate.dedup.files``."""
    from curate.dedup.files import dedup_files as run

    return run(inputs, output, threshold=threshold, dropped=dropped, **config)
