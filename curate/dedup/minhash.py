"""Near-duplicate removal: MinHash + LSH, distributed over tasks through ``FitContext``.

fit, in passes (every intermediate is a partitioned file under ``ctx.workdir``; documents are keyed by
position ``node = part << 32 | row``; K partitions follow the number of documents and the cluster,
``common.partitions_for``):
1. one task per part: signatures (``signature.MinHasher``) -> ``sig/pNNNNN.npy``; per band, bucket keys
   hashed into K partitions -> ``bands/pNNNNN.arrow``; (node, rank, id, digest) partitioned by node ->
   ``meta/pNNNNN.arrow``;
2. one task per (band, key-partition): candidate edges (``lsh.bucket_task``);
3. verification joined to the data, two tasks per part (``verify``): exact shingle Jaccard >= threshold;
4. connected components by Large-Star/Small-Star rounds (``components``);
5. one task per node partition labels its nodes and joins their rank and id; one task per label
   partition keeps the best rank, then the smallest id, then the first position, and writes removal
   records; one task per removal bucket adds ``dup_sim`` (the MinHash estimate of the removed
   document's Jaccard with the survivor) and builds the table ``apply`` reads (``removals``).
The driver gets counts, histograms and a bounded sample of examples; results do not depend on K, the
number of tasks or workers.
"""

from __future__ import annotations

import functools
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.batches import read_table
from curate.config import bounds
from curate.dedup import lsh
from curate.dedup.common import (
    DEFAULT_PRIORITY,
    bucket,
    count_rows,
    digests,
    estimate_jaccard,
    group_first,
    merge_sizes,
    nodes,
    part_of,
    partitions_for,
    ranks,
    read_partition,
    write_partitioned,
)
from curate.dedup.components import components, labels_of
from curate.dedup.removals import RECORD, bucket_count, build_table, drop_removed, write_records
from curate.dedup.shingle import char_batches
from curate.dedup.verify import join_right, send_left
from curate.stage import FitContext, Stage, StageResult

SIG_DOCS_PER_S_CORE = 30_000  # bench/dedup.py: 37,094 for ~2.4 KB docs on the shared box; for the estimate
BATCH = 2048
BATCH_CHARS = 1 << 18  # per hashing batch: smaller batches ran faster (cache) and hold less (measured 1 << 16..20)
_WORK = ("sig", "bands", "meta", "cand", "left", "cc", "labelled", "decided", "removed")


def estimate(
    n_docs: int,
    num_perm: int,
    bands: int,
    rows: int,
    threshold: float,
    partitions: int,
    docs_per_s_core: float = SIG_DOCS_PER_S_CORE,
) -> dict:
    """Disk, per-task memory, CPU and expected recall of a run, printed before it starts."""
    per_part = -(-n_docs // max(1, partitions))
    return {
        "docs": n_docs,
        "bands": bands,
        "rows": rows,
        "partitions": partitions,
        "expected_recall_at_threshold": round(float(lsh.recall(threshold, bands, rows)), 4),
        "expected_recall_at_threshold+0.05": round(float(lsh.recall(min(1.0, threshold + 0.05), bands, rows)), 4),
        "signature_disk_mb": round(n_docs * (num_perm * 4 + bands * 16 + 64) / 2**20, 1),
        "peak_mb_per_signature_task": round(BATCH * (num_perm * 8 + 4096 * 16) / 2**20, 1),
        # a (band, key-partition) task sorts (key, node, order) of its share of one band
        "peak_mb_per_bucket_task": round(per_part * 8 * 4 / 2**20, 1),
        "signature_cpu_s": round(n_docs / docs_per_s_core, 1),
    }


def _hash_batches(chars: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive documents hashed together: at most ``BATCH`` documents and, past the first,
    ``BATCH_CHARS`` characters (hashing holds a few copies of a batch's text: lower-cased, UTF-32, units)."""
    return char_batches(chars, BATCH_CHARS, BATCH)


def _signatures(
    item: tuple[int, Path], workdir: Path, hasher: dict, priority: list[str], bands: int, rows: int, partitions: int
) -> dict:
    from curate.dedup.signature import MinHasher  # imported by the tasks that hash, not by the driver

    i, path = item
    t = read_table(path, ["id", "source", "kind", "url", "text"])
    mh = MinHasher(**hasher)
    text = t.column("text")
    sig = np.empty((len(text), mh.num_perm), mh.dtype)
    for s, e in _hash_batches(pc.fill_null(pc.utf8_length(text), 0).to_numpy()):
        sig[s:e] = mh.signatures(text.slice(s, e - s).to_pylist())
    np.save(workdir / "sig" / f"p{i:05d}.npy", sig)
    node = nodes(i, len(text))
    live = ~mh.empty_rows(sig)  # documents without shingles never match
    keys = [lsh.band_keys(sig[live, b * rows : (b + 1) * rows]) for b in range(bands)]
    band_of = np.repeat(np.arange(bands, dtype=np.int64), int(live.sum()))
    key = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
    write_partitioned(
        workdir / "bands" / f"p{i:05d}.arrow",
        pa.table({"key": key, "node": np.tile(node[live], bands)}),
        band_of * partitions + bucket(key, partitions),
    )
    d1, d2 = digests(t)
    rk = ranks(t.column("kind").to_pylist(), t.column("source").to_pylist(), priority)
    write_partitioned(
        workdir / "meta" / f"p{i:05d}.arrow",
        pa.table({"node": node, "rank": rk, "id": t.column("id"), "d1": d1, "d2": d2}),
        bucket(node, partitions),
    )
    return {"rows": len(text), "empty": int((~live).sum())}


def _label_task(m: int, star_files: list[str], meta_files: list[str], out_dir: str, partitions: int) -> int:
    """Partition ``m``'s clustered nodes with their component label, rank, id and digest."""
    node, label = labels_of(star_files, m)
    meta = read_partition(meta_files, m) if len(node) else None
    out = Path(out_dir) / f"m{m:05d}.arrow"
    if meta is None:
        empty = pa.table(
            {
                "label": pa.array([], pa.int64()),
                "node": pa.array([], pa.int64()),
                "rank": pa.array([], pa.int32()),
                "id": pa.array([], pa.string()),
                "d1": pa.array([], pa.uint64()),
                "d2": pa.array([], pa.uint64()),
            }
        )
        write_partitioned(out, empty, np.zeros(0, np.int64))
        return 0
    meta_node = meta.column("node").to_numpy()
    order = np.argsort(meta_node)
    at = order[np.searchsorted(meta_node, node, sorter=order)]
    t = meta.take(pa.array(at))
    t = pa.table(
        {
            "label": label,
            "node": node,
            "rank": t.column("rank"),
            "id": t.column("id"),
            "d1": t.column("d1"),
            "d2": t.column("d2"),
        }
    )
    write_partitioned(out, t, bucket(label, partitions))
    return len(node)


def _survivor_task(j: int, labelled: list[str], out_dir: str, buckets: int) -> dict:
    """Per component of label partition ``j``: keep the best (rank, id, position); record the others."""
    t = read_partition(labelled, j)
    out = Path(out_dir) / f"j{j:05d}.arrow"
    if t is None:
        write_partitioned(out, RECORD.empty_table(), np.zeros(0, np.int64))
        return {"sizes": {}}
    t = t.sort_by([("label", "ascending"), ("rank", "ascending"), ("id", "ascending"), ("node", "ascending")])
    start, first = group_first(t.column("label").to_numpy())
    write_records(out, t, np.flatnonzero(~start), first[~start], buckets)
    sizes = np.diff(np.append(np.flatnonzero(start), len(start)))
    return {"sizes": dict(Counter(sizes.tolist()))}


def _sims(node: np.ndarray, keep: np.ndarray, sig_dir: str) -> np.ndarray:
    """MinHash Jaccard estimate of each (removed, kept) pair, reading only those signature rows."""

    def rows(x: np.ndarray) -> np.ndarray:
        out = None
        part = part_of(x)
        for p in np.unique(part):
            sig = np.load(Path(sig_dir) / f"p{p:05d}.npy", mmap_mode="r")
            sel = np.flatnonzero(part == p)
            block = np.asarray(sig[x[sel] & np.int64(0xFFFFFFFF)])
            if out is None:
                out = np.empty((len(x), block.shape[1]), block.dtype)
            out[sel] = block
        return out

    if not len(node):
        return np.zeros(0, np.float32)
    return estimate_jaccard(rows(node), rows(keep)).astype(np.float32)


class MinHashDedupStage(Stage):
    """Drops near-duplicates (reason ``dedup:near``, meta ``dup_of`` and ``dup_sim``)."""

    name = "dedup"

    @dataclass
    class Config:
        threshold: float = field(default=0.8, metadata=bounds(gt=0, le=1))
        # signature width; a batch of 4096 documents holds 4096 * num_perm * 4 bytes (8192: 128 MB)
        num_perm: int = field(default=128, metadata=bounds(ge=1, le=8192))
        ngram: int = field(default=5, metadata=bounds(ge=1))  # words per shingle
        cjk_ngram: int = field(default=3, metadata=bounds(ge=1))  # characters per shingle for mostly-CJK text
        seed: int = field(default=1, metadata=bounds(ge=0, lt=2**32))  # numpy's RandomState takes 32 bits
        # "sha1": signatures equal to datasketch's default hashfunc, slower
        hash: Literal["fast", "sha1"] = "fast"
        # datasketch's permutation scheme: "affine32" (its default) or "legacy"
        scheme: Literal["affine32", "legacy"] = "affine32"
        # with rows: override the chosen (bands, rows); bands * rows <= num_perm
        bands: int | None = field(default=None, metadata=bounds(ge=1, le=lambda c: c.num_perm))
        rows: int | None = field(default=None, metadata=bounds(ge=1, le=lambda c: c.num_perm // (c.bands or 1)))
        fp_weight: float = field(default=0.5, metadata=bounds(ge=0))
        fn_weight: float = field(
            default=0.5, metadata=bounds(ge=0)
        )  # datasketch's weighting, used only with verify off
        verify: bool = True  # exact Jaccard check of candidate pairs (reads their texts)
        priority: list[str] = field(default_factory=lambda: list(DEFAULT_PRIORITY))
        # key/node partitions K (default: from the number of documents and cluster CPUs)
        tasks: int | None = field(default=None, metadata=bounds(ge=1))

        def check(self) -> None:  # a banding must exist for these settings (curate.recipe.build_config calls it)
            if self.verify and not (self.bands and self.rows):
                try:
                    lsh.params_for_recall(self.threshold, self.num_perm)
                except ValueError as e:
                    raise ValueError(
                        f"threshold: {self.threshold} is too low for num_perm {self.num_perm} ({e}); "
                        "raise num_perm or the threshold, or set bands and rows"
                    ) from None

    def lsh_params(self) -> tuple[int, int]:
        """User override, else recall-first parameters with verification (``lsh.params_for_recall``),
        else datasketch's balanced ones."""
        c = self.config
        if c.bands and c.rows:
            if c.bands * c.rows > c.num_perm:
                raise ValueError(f"bands*rows = {c.bands * c.rows} exceeds num_perm = {c.num_perm}")
            return c.bands, c.rows
        if c.verify:
            return lsh.params_for_recall(c.threshold, c.num_perm)
        return lsh.params(c.threshold, c.num_perm, c.fp_weight, c.fn_weight)

    def fit(self, ctx: FitContext) -> dict:
        c = self.config
        bands, rows = self.lsh_params()
        wd = Path(ctx.workdir)
        for sub in _WORK:
            shutil.rmtree(wd / sub, ignore_errors=True)
        (wd / "sig").mkdir(parents=True)
        n_docs = count_rows(ctx.parts)
        k_parts, buckets = partitions_for(n_docs, c.tasks), bucket_count(n_docs)
        ctx.log(f"dedup: estimate {estimate(n_docs, c.num_perm, bands, rows, c.threshold, k_parts)}")
        parts = [str(p) for p in ctx.parts]
        files = lambda sub, prefix, n: [str(wd / sub / f"{prefix}{i:05d}.arrow") for i in range(n)]  # noqa: E731
        hasher = dict(
            num_perm=c.num_perm, seed=c.seed, ngram=c.ngram, cjk_ngram=c.cjk_ngram, hash=c.hash, scheme=c.scheme
        )
        done = ctx.map(
            functools.partial(
                _signatures, workdir=wd, hasher=hasher, priority=c.priority, bands=bands, rows=rows, partitions=k_parts
            ),
            list(enumerate(ctx.parts)),
        )
        ctx.map(
            functools.partial(
                lsh.bucket_task,
                band_files=files("bands", "p", len(parts)),
                partitions=k_parts,
                out_dir=str(wd / "cand"),
            ),
            [(b, k) for b in range(bands) for k in range(k_parts)],
        )
        cand = [str(wd / "cand" / f"b{b:03d}_k{k:05d}.arrow") for b in range(bands) for k in range(k_parts)]
        shingling = dict(ngram=c.ngram, cjk_ngram=c.cjk_ngram)
        left_dir = wd / ("left" if c.verify else "cc")
        candidates = sum(
            ctx.map(
                functools.partial(
                    send_left,
                    cand_files=cand,
                    parts=parts,
                    out_dir=str(left_dir),
                    verify=c.verify,
                    partitions=k_parts,
                    **shingling,
                ),
                list(range(len(parts))),
            )
        )
        if c.verify:
            joined = ctx.map(
                functools.partial(
                    join_right,
                    left_files=files("left", "p", len(parts)),
                    parts=parts,
                    out_dir=str(wd / "cc"),
                    threshold=c.threshold,
                    partitions=k_parts,
                    **shingling,
                ),
                list(range(len(parts))),
            )
            edge_files = files("cc", "q", len(parts))
        else:
            joined, edge_files = [], files("cc", "p", len(parts))
        stars, rounds = components(edge_files, k_parts, wd / "cc", ctx.map)
        ctx.map(
            functools.partial(
                _label_task,
                star_files=stars,
                meta_files=files("meta", "p", len(parts)),
                out_dir=str(wd / "labelled"),
                partitions=k_parts,
            ),
            list(range(k_parts)),
        )
        decided = ctx.map(
            functools.partial(
                _survivor_task, labelled=files("labelled", "m", k_parts), out_dir=str(wd / "decided"), buckets=buckets
            ),
            list(range(k_parts)),
        )
        state, table = build_table(
            ctx.map,
            files("decided", "j", k_parts),
            str(wd / "removed"),
            buckets,
            functools.partial(_sims, sig_dir=str(wd / "sig")),
        )
        sizes, removed = merge_sizes([d["sizes"] for d in decided]), table["removed"]
        state["summary"] = {
            "docs": sum(d["rows"] for d in done),
            "no_shingles": sum(d["empty"] for d in done),
            "bands": bands,
            "rows": rows,
            "candidate_pairs": candidates,
            "verified_pairs": sum(j["verified"] for j in joined) if c.verify else None,
            "candidate_jaccard_histogram": (
                [int(x) for x in np.sum([j["hist"] for j in joined], axis=0)] if joined else None
            ),
            "label_rounds": rounds,
            "removed": removed,
            "clusters": sum(sizes.values()),
            "cluster_sizes": sizes,
            "identical_rows_kept_in_other_parts": table["identical_rows_kept_in_other_parts"],
            "examples": [
                {"removed": e["removed"], "kept": e["kept"], "est_jaccard": e["sim"]} for e in table["examples"]
            ],
        }
        ctx.log(
            f"dedup: {removed} near-duplicates removed in {state['summary']['clusters']} clusters "
            f"({candidates} candidate pairs, bands={bands} rows={rows}, {rounds} component rounds)"
        )
        return state

    def apply(self, batch: pa.Table, state: dict) -> StageResult:
        return drop_removed(batch, state, "dedup:near", self.name)
