"""``python -m bench extract``: our extractor vs trafilatura defaults vs resiliparse, side by side.

The pages are the 256 real pages of ``shared/corpus/web/pages.warc.gz``, read by our WARC reader; a page
passes when every ``expected_with`` snippet of ``pages.jsonl`` is in the output and no
``expected_without`` one is. Throughput is pages per CPU-second of one process (= per core).
Options: ``--repeat N`` (timing passes, best kept; default 1).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from curate.extract.engines import ENGINES
from curate.sources.base import Unit
from curate.sources.warc import WarcReader


def snippet_scores(outputs: list[str], expected: list[dict]) -> tuple[float, float]:
    """(per-page pass rate, per-snippet pass rate)."""
    pages = snippets = total = 0
    for text, exp in zip(outputs, expected, strict=True):
        ok = [s in text for s in exp["expected_with"]] + [s not in text for s in exp["expected_without"]]
        pages += all(ok)
        snippets += sum(ok)
        total += len(ok)
    return pages / len(outputs), snippets / max(1, total)


def main(argv: list[str]) -> None:
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 1
    corpus = Path(os.environ.get("CURATE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    by_url = {}
    for line in (corpus / "web" / "pages.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        by_url[rec["url"]] = rec
    docs = WarcReader("web", "web").read(Unit(str(corpus / "web" / "pages.warc.gz"))).kept.to_pylist()
    expected = [by_url[d["url"]] for d in docs]
    print(f"{len(docs)} pages, {sum(len(e['expected_with']) + len(e['expected_without']) for e in expected)} snippets")
    results = {}
    for name in ("fast", "trafilatura", "resiliparse"):
        fn = ENGINES[name]
        best = float("inf")
        for _ in range(repeat):
            t0 = time.process_time()
            outs = [fn(d["text"], d["url"])[0] for d in docs]
            best = min(best, time.process_time() - t0)
        page_rate, snippet_rate = snippet_scores(outs, expected)
        results[name] = (len(docs) / best, page_rate, snippet_rate)
    label = {"fast": "ours (fast)", "trafilatura": "trafilatura defaults", "resiliparse": "resiliparse main"}
    print(f"{'extractor':<22}{'pages/s/core':>14}{'page pass':>11}{'snippet pass':>14}{'speed vs traf':>15}")
    ref = results["trafilatura"][0]
    for name, (pps, pr, sr) in results.items():
        print(f"{label[name]:<22}{pps:>14.1f}{pr:>11.3f}{sr:>14.3f}{pps / ref:>14.2f}x")
    ours, traf = results["fast"], results["trafilatura"]
    print(f"ours/trafilatura: throughput {ours[0] / traf[0]:.2f}x (goal >= 4x), page pass "
          f"{ours[1]:.3f} vs {traf[1]:.3f} (goal >=)")
