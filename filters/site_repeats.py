"""Lines that repeat across documents of one site: the CCNet idea (Wenzek et al. 2020 remove paragraphs
repeated across a crawl shard) restricted to a site's template, so that navigation, footers and widget
labels that every page of a site carries are found without a word list.

``fit`` hashes every (host, line) pair once per part into ``partitions`` hash ranges on disk (like the
dedup passes), then one task per range counts the documents holding each hash (a task holds only its
range, so memory is bounded by crawl size / partitions) and keeps those seen in >= ``min_docs`` documents.
Only lines that do not read as prose are counted: an article quoted by two pages keeps its sentences.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import xxhash

from curate.batches import read_table
from curate.filters.layout import reads_as_prose


def host(url: str | None) -> str:
    """The URL's host without ``www.`` ("" when there is none)."""
    try:
        h = urlsplit(url or "").hostname or ""
    except ValueError:
        return ""
    return h.removeprefix("www.")


def line_hash(site: str, line: str) -> int:
    return xxhash.xxh64_intdigest(f"{site}\n{line}".encode("utf-8", "surrogatepass"))


def candidate_hashes(text: str, site: str) -> set[int]:
    """64-bit hashes of the page's distinct non-prose lines, keyed by site."""
    out = set()
    for raw in text.split("\n"):
        s = raw.strip()
        if s and not reads_as_prose(s):
            out.add(line_hash(site, s))
    return out


def hash_part(path: str, out_dir: str, partitions: int) -> list[str]:
    """Write one part's per-document distinct line hashes as ``partitions`` uint64 files, by hash range."""
    t = read_table(path, ["url", "text"])
    buckets: list[list[int]] = [[] for _ in range(partitions)]
    for url, text in zip(t["url"].to_pylist(), t["text"].to_pylist()):
        for h in candidate_hashes(text or "", host(url)):
            buckets[h % partitions].append(h)
    stem = hashlib.sha1(path.encode()).hexdigest()[:16]
    files = []
    for k, hs in enumerate(buckets):
        f = Path(out_dir) / f"{stem}.{k}.npy"
        np.save(f, np.array(hs, dtype=np.uint64))
        files.append(str(f))
    return files


def frequent_in_range(files: list[str], min_docs: int) -> list[int]:
    """Hashes of one range found in >= ``min_docs`` documents (each file lists a document's hash once)."""
    if not files:
        return []
    allh = np.concatenate([np.load(f) for f in files])
    values, counts = np.unique(allh, return_counts=True)
    return [int(v) for v in values[counts >= min_docs]]


def fit_site_repeats(parts: list[Path], workdir: Path, map_parts, map_fn, partitions: int, min_docs: int) -> list[int]:
    """Repeated-line hashes of all parts: hash each part once into ranges, then one task per range."""
    out = Path(workdir) / "site_repeats"
    out.mkdir(parents=True, exist_ok=True)
    per_part = map_parts(lambda p: hash_part(str(p), str(out), partitions))
    ranges = map_fn(lambda k: frequent_in_range([fs[k] for fs in per_part], min_docs), list(range(partitions)))
    return sorted(h for r in ranges for h in r)
