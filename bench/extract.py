"""``python -m bench extract``: our extractor vs trafilatura defaults vs resiliparse, side by side.

The pages are the 256 real pages of ``shared/corpus/web/pages.warc.gz``, read by our WARC reader; a page
passes when every ``expected_with`` snippet of ``pages.jsonl`` is in the output and no
``expected_without`` one is. Throughput is pages per CPU-second of one process (= per core).
Pass rates are printed for all pages and for two fixed halves by the page's ``sha1`` (even last hex
digit: the half the fast path's rules were tuned on; odd: held out).
Options: ``--repeat=N`` (timing rounds, engines interleaved, best kept, as ``timeit`` does; default 3;
the spread of the per-round ratios is printed too). Each engine first
runs once over all pages untimed, so one-time lazy set-up (imports, justext's stoplists) is not
charged to whichever engine happens to reach it first.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from functools import partial
from pathlib import Path

from bench._timing import interleaved
from curate.extract.engines import ENGINES
from curate.sources.base import Unit
from curate.sources.warc import WarcReader


def _run(fn, docs: list[dict]) -> list[tuple[str, dict]]:
    return [fn(d["text"], d["url"]) for d in docs]


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
    repeat = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--repeat=")), 3)
    corpus = Path(os.environ.get("CURATE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    by_url = {}
    for line in (corpus / "web" / "pages.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        by_url[rec["url"]] = rec
    docs = WarcReader("web", "web").read(Unit(str(corpus / "web" / "pages.warc.gz"))).kept.to_pylist()
    expected = [by_url[d["url"]] for d in docs]
    print(f"{len(docs)} pages, {sum(len(e['expected_with']) + len(e['expected_without']) for e in expected)} snippets")
    halves = {"tune": [i for i, e in enumerate(expected) if int(e["sha1"], 16) % 2 == 0]}
    halves["held-out"] = [i for i, e in enumerate(expected) if int(e["sha1"], 16) % 2 == 1]
    names = ("fast", "trafilatura", "resiliparse")
    # the untimed warm-up pass covers one-time set-up (imports, justext's stoplists, built on first use)
    times, res = interleaved({name: partial(_run, ENGINES[name], docs) for name in names}, repeat)
    results, paths = {}, {}
    for name in names:
        outs = [text for text, _ in res[name]]
        paths[name] = Counter(meta.get("extract_path", name) for _, meta in res[name])
        scores = {"all": snippet_scores(outs, expected)}
        for half, idx in halves.items():
            scores[half] = snippet_scores([outs[i] for i in idx], [expected[i] for i in idx])
        results[name] = (len(docs) / min(times[name]), scores)
    label = {"fast": "ours (fast)", "trafilatura": "trafilatura defaults", "resiliparse": "resiliparse main"}
    print(f"halves by sha1: tune {len(halves['tune'])} pages, held-out {len(halves['held-out'])} pages")
    print(
        f"{'extractor':<22}{'pages/s/core':>13}{'speed vs traf':>14}  page pass / snippet pass: "
        f"{'all':>13}{'tune':>13}{'held-out':>13}"
    )
    ref = results["trafilatura"][0]
    for name, (pps, sc) in results.items():
        cells = "".join(f"{sc[k][0]:>7.3f}/{sc[k][1]:.3f}" for k in ("all", "tune", "held-out"))
        print(f"{label[name]:<22}{pps:>13.1f}{pps / ref:>13.2f}x  {'':>26}{cells}")
    print(f"ours: paths {dict(paths['fast'])}")
    (ours, o), (traf, t) = results["fast"], results["trafilatura"]
    print(
        f"ours/trafilatura: throughput {ours / traf:.2f}x (goal >= 4x); page pass {o['all'][0]:.3f} vs "
        f"{t['all'][0]:.3f}, snippet pass {o['all'][1]:.3f} vs {t['all'][1]:.3f} (goal >=); held-out page "
        f"{o['held-out'][0]:.3f} vs {t['held-out'][0]:.3f}, snippet {o['held-out'][1]:.3f} vs {t['held-out'][1]:.3f}"
    )
    rounds = sorted(t / o for o, t in zip(times["fast"], times["trafilatura"], strict=True))
    print(
        f"ours/trafilatura per round ({repeat} rounds): min {rounds[0]:.2f}x, median {rounds[len(rounds) // 2]:.2f}x, "
        f"max {rounds[-1]:.2f}x"
    )
