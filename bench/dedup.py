"""MinHash signatures per core (ours vs datasketch ``update_batch`` vs rensa), estimate error on the
planted pairs, then dedup at scale on Ray (``bench._dedup_scale``): CPU per 1,000 docs, driver peak RSS
and largest task peak RSS per pass, for 1e5 and 1e6 generated documents with 2 workers.

``python -m bench dedup [--docs=N] [--repeat=R] [--sizes=100000,1000000] [--workers=2]`` (N = docs timed
per method, default 3000; R timing rounds, default 3; ``--sizes=0`` skips the scale run).
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import numpy as np

from bench._timing import interleaved
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
    exact = np.array([len(x & y) / len(x | y) for x, y in ((set(shingles(p)), set(shingles(q))) for p, q in zip(a, b))])
    out = {}
    for name, fn in methods.items():
        sa, sb = np.array(fn(a)), np.array(fn(b))
        out[name] = float(np.abs(estimate_jaccard(sa, sb) - exact).mean())
    return out


def main(argv: list[str]) -> None:
    def opt(name: str, default: str) -> str:
        return next((a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")), default)

    n, rounds = int(opt("docs", "3000")), int(opt("repeat", "3"))
    sizes = [int(float(x)) for x in opt("sizes", "100000,1000000").split(",") if float(x) > 0]
    base = chunks()
    docs = (base * (n // len(base) + 1))[:n]
    print(
        f"{len(base)} real chunks, mean {np.mean([len(d) for d in base]):.0f} chars; timing {n} docs, "
        f"num_perm=128, word 5-gram shingles, 1 process, best of {rounds} interleaved rounds of CPU time"
    )
    methods = {
        "ours (fast hash)": ours("fast"),
        "ours (sha1, = datasketch)": ours("sha1"),
        "datasketch update_batch": datasketch_sigs,
        "rensa RMinHash": rensa_sigs,
    }
    for fn in methods.values():
        fn(docs[:50])  # warm-up on a few docs (imports, character tables); interleaved adds a full call
    times, _ = interleaved({name: partial(fn, docs) for name, fn in methods.items()}, rounds)
    rates = {name: n / min(t) for name, t in times.items()}
    ds, rs = rates["datasketch update_batch"], rates["rensa RMinHash"]
    print(f"{'method':28s} {'docs/s/core':>12s} {'x datasketch':>13s} {'x rensa':>8s}")
    for name, r in rates.items():
        print(f"{name:28s} {r:12.0f} {r / ds:13.2f} {r / rs:8.2f}")
    print("mean |estimated - exact Jaccard| over the 100 planted pairs:")
    for name, err in estimate_errors(methods).items():
        print(f"  {name:28s} {err:.4f}")
    if sizes:
        from bench._dedup_scale import PART_DOCS, report, scale

        workers = int(opt("workers", "2"))
        print(
            f"dedup at scale: generated ~1 KB docs (5% exact, 5% near copies), {PART_DOCS:,d} per part, "
            f"{workers} Ray workers, fit + apply per pass, RSS sampled with psutil"
        )
        report(scale(sizes, workers))
