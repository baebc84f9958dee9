"""MinHash signatures per core (ours vs datasketch ``update_batch`` vs rensa), estimate error on the
planted pairs, and peak memory of the signature and bucketing tasks (1e4..1e5 measured, 1e6 projected).

``python -m bench dedup [--docs N] [--repeat=R]`` (N = docs timed per method, default 3000; R timing
rounds, default 3).
"""
from __future__ import annotations

import json
import os
import tempfile
import tracemalloc
from functools import partial
from pathlib import Path

import numpy as np

from bench._timing import interleaved
from curate.dedup import lsh
from curate.dedup.shingle import shingles
from curate.dedup.signature import MinHasher, estimate_jaccard

CORPUS = Path(os.environ.get("CURATE_TEST_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"))


def chunks(target: int = 2000) -> list[str]:
    """Real ~2 KB chunks: paragraphs of the books and the planted-set web/wiki documents."""
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((CORPUS / "books").glob("*.txt"))]
    texts += [json.loads(x)["text"] for x in (CORPUS / "dedup" / "docs.jsonl").open()]
    out = []
    for t in texts:
        cur = ""
        for para in t.split("\n\n"):
            cur += para + "\n\n"
            if len(cur) >= target:
                out.append(cur)
                cur = ""
    return out


def ours(hash_: str):
    mh = MinHasher(128, 1, hash=hash_)
    return lambda docs: list(mh.signatures(docs))


def datasketch_sigs(docs: list[str]) -> list:
    from datasketch import MinHash

    out = []
    for d in docs:
        m = MinHash(128, seed=1)
        m.update_batch([s.encode("utf-8") for s in shingles(d)])
        out.append(m.hashvalues)
    return out


def rensa_sigs(docs: list[str]) -> list:
    from rensa import RMinHash

    out = []
    for d in docs:
        m = RMinHash(num_perm=128, seed=1)
        m.update(shingles(d))
        out.append(np.array(m.digest(), np.uint32))
    return out


def estimate_errors(methods: dict) -> dict[str, float]:
    truth = [json.loads(x) for x in (CORPUS / "dedup" / "truth.jsonl").open()]
    text = {r["id"]: r["text"] for r in map(json.loads, (CORPUS / "dedup" / "docs.jsonl").open())}
    a = [text[t["id"]] for t in truth]
    b = [text[t["duplicate_of"]] for t in truth]
    exact = np.array([len(x & y) / len(x | y) for x, y in
                      ((set(shingles(p)), set(shingles(q))) for p, q in zip(a, b))])
    out = {}
    for name, fn in methods.items():
        sa, sb = np.array(fn(a)), np.array(fn(b))
        out[name] = float(np.abs(estimate_jaccard(sa, sb) - exact).mean())
    return out


def synthetic(base: list[str], n: int) -> list[str]:
    """n docs made of real chunks with their words shuffled (seeded), so they are not duplicates."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        w = base[i % len(base)].split()
        out.append(" ".join(w[j] for j in rng.permutation(len(w))))
    return out


def peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def memory_curve(base: list[str], sizes: list[int]) -> list[tuple[int, float, float]]:
    from curate.dedup.minhash import BATCH

    bands, rows = lsh.params(0.8, 128)
    mh = MinHasher()
    rows_out = []
    for n in sizes:
        docs = synthetic(base, n)
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / "sig.npy"

            def sig_task() -> None:
                sig = np.empty((n, 128), np.uint32)
                for s in range(0, n, BATCH):
                    sig[s:s + BATCH] = mh.signatures(docs[s:s + BATCH])
                np.save(f, sig)

            sig_mb = peak_mb(sig_task) - n * 128 * 4 / 2**20  # the output array itself is written to disk
            band_mb = peak_mb(lambda: lsh.bucket_bands([0], [str(f)], [0], rows, str(Path(tmp) / "e.npy")))
        rows_out.append((n, sig_mb, band_mb))
    return rows_out


def main(argv: list[str]) -> None:
    n = int(argv[argv.index("--docs") + 1]) if "--docs" in argv else 3000
    rounds = int(next((a.split("=", 1)[1] for a in argv if a.startswith("--repeat=")), "3"))
    base = chunks()
    docs = (base * (n // len(base) + 1))[:n]
    print(f"{len(base)} real chunks, mean {np.mean([len(d) for d in base]):.0f} chars; timing {n} docs, "
          f"num_perm=128, word 5-gram shingles, 1 process, best of {rounds} interleaved rounds of CPU time")
    methods = {"ours (fast hash)": ours("fast"), "ours (sha1, = datasketch)": ours("sha1"),
               "datasketch update_batch": datasketch_sigs, "rensa RMinHash": rensa_sigs}
    for fn in methods.values():
        fn(docs[:50])  # warm-up on a few docs (numba cache load, imports); interleaved adds a full call
    times, _ = interleaved({name: partial(fn, docs) for name, fn in methods.items()}, rounds)
    rates = {name: n / min(t) for name, t in times.items()}
    ds, rs = rates["datasketch update_batch"], rates["rensa RMinHash"]
    print(f"{'method':28s} {'docs/s/core':>12s} {'x datasketch':>13s} {'x rensa':>8s}")
    for name, r in rates.items():
        print(f"{name:28s} {r:12.0f} {r / ds:13.2f} {r / rs:8.2f}")
    print("mean |estimated - exact Jaccard| over the 100 planted pairs:")
    for name, err in estimate_errors(methods).items():
        print(f"  {name:28s} {err:.4f}")
    sizes = [10_000, 30_000, 100_000]
    curve = memory_curve(base, sizes)
    print("peak traced memory per task (MB), synthetic docs from shuffled real chunks:")
    print(f"{'docs':>9s} {'signature task':>15s} {'band task (1 band)':>19s}")
    for d, s, b in curve:
        print(f"{d:9d} {s:15.1f} {b:19.1f}")
    x = np.array([c[0] for c in curve], float)
    for col, label in ((1, "signature task"), (2, "band task")):
        k, c0 = np.polyfit(x, [c[col] for c in curve], 1)
        print(f"  1e6 docs, {label}: {k * 1e6 + c0:.1f} MB (projected, linear fit of the measured curve)")
