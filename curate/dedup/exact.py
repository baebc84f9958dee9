"""Exact dedup on normalised text (``shingle.normalize``: lower-cased words, single spaces), within and
across sources. Text is first put in one Unicode normal form (``unicode_form``, default NFC), so the
composed and decomposed spellings of the same text (``é`` as one code point or as ``e`` + U+0301) are one
document; ``none`` compares code points as they are.

fit, with K hash partitions (``common.partitions_for``: from the number of documents and the cluster,
not from the number of parts):
1. one task per part hashes each document's normalised text (xxh3-128) and writes (hash, rank, id,
   position, digest) into ONE partitioned file, rows grouped by hash partition (P files in all);
2. one task per partition reads only its slice of each file, groups equal hashes and keeps the
   best-ranked copy (source priority, then smallest id, then first position), writing removal records;
3. one task per removal bucket builds the table ``apply`` looks rows up in (``removals``).
No task holds more than its partition; the driver gets counts and a bounded sample of examples.
Documents whose normalised text is empty are never treated as duplicates.
"""

from __future__ import annotations

import functools
import shutil
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import xxhash

from curate.batches import read_table
from curate.config import bounds
from curate.dedup.common import (
    DEFAULT_PRIORITY,
    bucket,
    count_rows,
    digests,
    group_first,
    merge_sizes,
    nodes,
    partitions_for,
    ranks,
    read_partition,
    write_partitioned,
)
from curate.dedup.removals import RECORD, bucket_count, build_table, drop_removed, write_records
from curate.dedup.shingle import normalize
from curate.stage import FitContext, Stage, StageResult


def _hash_part(item: tuple[int, Path], workdir: Path, partitions: int, priority: list[str], form: str = "NFC") -> dict:
    i, path = item
    t = read_table(path, ["id", "source", "kind", "url", "text"])
    h = np.zeros((t.num_rows, 2), np.uint64)
    keep = np.zeros(t.num_rows, bool)
    for j, text in enumerate(t.column("text").to_pylist()):
        norm = normalize(unicodedata.normalize(form, text) if text and form != "none" else text)
        if norm:
            h[j] = np.frombuffer(xxhash.xxh3_128_digest(norm.encode("utf-8", "surrogatepass")), np.uint64)
            keep[j] = True
    d1, d2 = digests(t)
    rows = pa.array(np.flatnonzero(keep))
    tab = pa.table(
        {
            "h1": h[keep, 0],
            "h2": h[keep, 1],
            "rank": ranks(t.column("kind").to_pylist(), t.column("source").to_pylist(), priority)[keep],
            "id": t.column("id").take(rows),
            "node": nodes(i, t.num_rows)[keep],
            "d1": d1[keep],
            "d2": d2[keep],
        }
    )
    write_partitioned(workdir / "hashes" / f"p{i:05d}.arrow", tab, bucket(h[keep, 0], partitions))
    return {"rows": t.num_rows, "empty": int((~keep).sum())}


def _group_partition(k: int, workdir: Path, n_parts: int, buckets: int) -> dict:
    files = [workdir / "hashes" / f"p{i:05d}.arrow" for i in range(n_parts)]
    t = read_partition(files, k)
    out = workdir / "decided" / f"k{k:05d}.arrow"
    if t is None:
        write_partitioned(out, RECORD.empty_table(), np.zeros(0, np.int64))
        return {"sizes": {}}
    t = t.sort_by(
        [("h1", "ascending"), ("h2", "ascending"), ("rank", "ascending"), ("id", "ascending"), ("node", "ascending")]
    )
    start, first = group_first(t.column("h1").to_numpy(), t.column("h2").to_numpy())
    write_records(out, t, np.flatnonzero(~start), first[~start], buckets)
    sizes = np.diff(np.append(np.flatnonzero(start), len(start)))
    return {"sizes": dict(Counter(sizes[sizes > 1].tolist()))}


class ExactDedupStage(Stage):
    """Drops documents whose normalised text equals a better-ranked document's (reason ``dedup:exact``)."""

    name = "dedup_exact"

    @dataclass
    class Config:
        priority: list[str] = field(default_factory=lambda: list(DEFAULT_PRIORITY))
        # hash partitions (default: from the number of documents and cluster CPUs)
        tasks: int | None = field(default=None, metadata=bounds(ge=1))
        # Unicode normal form the text is put in before comparing ("none": code points as they are)
        unicode_form: Literal["NFC", "NFKC", "none"] = "NFC"

    def fit(self, ctx: FitContext) -> dict:
        wd = Path(ctx.workdir)
        for sub in ("hashes", "decided", "removed"):
            shutil.rmtree(wd / sub, ignore_errors=True)
        n_docs = count_rows(ctx.parts)
        k_parts, buckets = partitions_for(n_docs, self.config.tasks), bucket_count(n_docs)
        ctx.log(f"dedup_exact: {n_docs} docs in {len(ctx.parts)} parts -> {k_parts} hash partitions")
        hashed = ctx.map(
            functools.partial(
                _hash_part, workdir=wd, partitions=k_parts, priority=self.config.priority, form=self.config.unicode_form
            ),
            list(enumerate(ctx.parts)),
        )
        groups = ctx.map(
            functools.partial(_group_partition, workdir=wd, n_parts=len(ctx.parts), buckets=buckets),
            list(range(k_parts)),
        )
        decided = [str(wd / "decided" / f"k{k:05d}.arrow") for k in range(k_parts)]
        state, table = build_table(ctx.map, decided, str(wd / "removed"), buckets)
        sizes = merge_sizes([g["sizes"] for g in groups])
        state["summary"] = {
            "docs": sum(h["rows"] for h in hashed),
            "empty_text": sum(h["empty"] for h in hashed),
            "removed": table["removed"],
            "duplicate_groups": sum(sizes.values()),
            "group_sizes": sizes,
            "identical_rows_kept_in_other_parts": table["identical_rows_kept_in_other_parts"],
            "examples": [{"removed": e["removed"], "kept": e["kept"]} for e in table["examples"]],
        }
        ctx.log(
            f"dedup_exact: {table['removed']} exact duplicates in {sum(sizes.values())} groups of "
            f"{state['summary']['docs']} docs"
        )
        return state

    def apply(self, batch: pa.Table, state: dict) -> StageResult:
        return drop_removed(batch, state, "dedup:exact", self.name)
