"""Throughput of the steps of issue 24, single process (docs/s per core): pii, url_filter, decontaminate,
code_filters, fix_text, each beside its anchor where one is installed here: ftfy's own ``fix_text`` for
``fix_text``; datatrove's PII formatter and URL filter (in ``.venv-bench``, which ``make bench`` builds) for
``pii`` and ``url_filter``, with agreement on the same text; datatrove's n-gram decontamination (its index
written from the same evaluation text, as its indexer does for lighteval tasks) for ``decontaminate``.
StarCoder's filter code is not packaged: no side-by-side figure for ``code_filters``, said so in the output.

Data: the 400 real documents of ``dedup/docs.jsonl`` repeated ``--repeat`` times, the 60 CJK pages and the 13
books, given the real URLs of the 256 web pages in turn; decontamination against the ablation's held-out chunks of three real books; code
filters on the modules of the CPython standard library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
import tempfile
from pathlib import Path

import ftfy

from bench._timing import interleaved
from curate.ablate.holdout import extract_eval_unit
from curate.filters.code_filters import CodeFilterStage
from curate.filters.decontaminate import DecontaminateStage
from curate.filters.fix_text import FixTextStage
from curate.filters.pii import PiiStage
from curate.filters.url_filter import UrlFilterStage
from curate.registry import reader_class
from curate.schema import docs_table
from curate.stage import FitContext

REPO = Path(__file__).resolve().parents[1]
BENCH_PY = REPO / ".venv-bench" / "bin" / "python"


def _best(fns: dict, n: int, reps: int = 3) -> dict[str, float]:
    times, _ = interleaved(fns, reps)
    return {k: n / min(v) for k, v in times.items()}


def _eval_file(corpus: Path, d: Path) -> Path:
    cls = reader_class("text")
    reader = cls("books", "books", cls.Config())
    out = d / "books.jsonl"
    parts = []
    for i, unit in enumerate(reader.units([str(corpus / "books" / b) for b in ("pg84.txt", "11-0.txt", "2852-0.txt")])):
        parts.append(d / f"p{i}.jsonl")
        extract_eval_unit((reader, unit, parts[-1]), seed=7, share=0.05, chunk_chars=4000)
    out.write_text("".join(p.read_text() for p in parts))
    return out


def _datatrove_anchors(
    corpus: Path, rows: list[dict], pii: PiiStage, url: UrlFilterStage, eval_file: Path, ours: dict
) -> None:
    """Datatrove's PIIFormatter, URLFilter and n-gram decontamination (``bench/_datatrove_steps.py`` in
    ``.venv-bench``, which ``make bench`` builds) on the same documents, evaluation text and the real URLs of
    the 256 web pages and the 60 CJK pages: docs/s per core beside ours, and agreement (documents with the same
    number of e-mails and of public IPv4 addresses replaced: datatrove replaces no IPv6 or phone; URLs with the
    same keep decision; documents both call contaminated or both clean)."""
    if not BENCH_PY.exists():
        print("  anchors: datatrove not installed (no .venv-bench; make bench builds it): no side-by-side figure")
        return
    urls = [json.loads(line)["url"] for line in (corpus / "web" / "pages.jsonl").open(encoding="utf-8")]
    urls += [
        u for u in (json.loads(line).get("url") for line in (corpus / "cjk" / "docs.jsonl").open(encoding="utf-8")) if u
    ]
    with tempfile.TemporaryDirectory() as d:
        docs, url_file = Path(d) / "docs.jsonl", Path(d) / "urls.json"
        docs.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in rows), encoding="utf-8")
        url_file.write_text(json.dumps(urls), encoding="utf-8")
        # -P: bench/tokenize.py must not shadow the standard library's tokenize module
        proc = subprocess.run(
            [
                str(BENCH_PY),
                "-P",
                str(REPO / "bench" / "_datatrove_steps.py"),
                str(docs),
                str(url_file),
                str(eval_file),
                "3",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
    if proc.returncode:
        print(f"  anchors: datatrove failed: {proc.stderr.strip().splitlines()[-1:]}")
        return
    dt = json.loads(proc.stdout.strip().splitlines()[-1])
    metas = [json.loads(m or "{}") for m in pii.apply(docs_table(rows), None).kept.column("meta").to_pylist()]
    mine = [[m.get("pii", {}).get("email", 0), m.get("pii", {}).get("ipv4", 0)] for m in metas]
    same = sum(a == b for a, b in zip(mine, dt["pii_counts"]))
    totals = [sum(c[k] for c in mine) for k in (0, 1)], [sum(c[k] for c in dt["pii_counts"]) for k in (0, 1)]
    print(
        f"  pii anchor  datatrove PIIFormatter {len(rows) / dt['pii_s']:9.0f} docs/s (ours {ours['pii'] / (len(rows) / dt['pii_s']):.2f}x "
        f"its speed, ours also finds IPv6 and phones); same e-mail and IPv4 counts in {same}/{len(rows)} documents; "
        f"e-mails ours {totals[0][0]} / datatrove {totals[1][0]}, public IPv4 ours {totals[0][1]} / datatrove {totals[1][1]}"
    )
    utable = docs_table(
        [{"id": str(i), "source": "web", "kind": "web", "url": u, "text": ""} for i, u in enumerate(urls)]
    )
    kept_ids = set(url.apply(utable, None).kept.column("id").to_pylist())
    r = _best({"url": lambda: url.apply(utable, None)}, len(urls))
    agree = sum((str(i) in kept_ids) == k for i, k in enumerate(dt["url_keep"]))
    both = sum(a == b for a, b in zip(ours["contaminated"], dt["dc_contaminated"]))
    print(
        f"  decontaminate anchor  datatrove NGramsDecontFilter (13-grams) {len(rows) / dt['dc_s']:9.0f} docs/s "
        f"(ours {ours['dc'] / (len(rows) / dt['dc_s']):.2f}x); same contaminated/clean decision on {both}/{len(rows)}; "
        f"contaminated: ours {sum(ours['contaminated'])}, datatrove {sum(dt['dc_contaminated'])}"
    )
    print(
        f"  url anchor  datatrove URLFilter (integrated UT1 lists) {len(urls) / dt['url_s']:9.0f} URLs/s, ours "
        f"{r['url']:9.0f} URLs/s on {len(urls)} real page URLs; same decision on {agree}/{len(urls)}; kept: ours "
        f"{len(kept_ids)}, datatrove {sum(dt['url_keep'])}"
    )


def main(argv: list[str]) -> None:
    repeat = int(next((a.split("=", 1)[1] for a in argv if a.startswith("--repeat=")), "3"))
    corpus = Path(os.environ.get("CURATE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    urls = [json.loads(line)["url"] for line in (corpus / "web" / "pages.jsonl").open(encoding="utf-8")]
    rows = []
    for k in range(repeat):
        for i, line in enumerate((corpus / "dedup" / "docs.jsonl").open(encoding="utf-8")):
            r = json.loads(line)
            rows.append(
                {"id": f"{r['id']}-{k}", "source": "web", "kind": "web", "url": urls[i % len(urls)], "text": r["text"]}
            )
    for i, line in enumerate((corpus / "cjk" / "docs.jsonl").open(encoding="utf-8")):  # contact lines, footers
        r = json.loads(line)
        rows.append({"id": r["id"], "source": "web", "kind": "web", "url": urls[i % len(urls)], "text": r["text"]})
    for i, book in enumerate(sorted((corpus / "books").glob("*.txt"))):  # Gutenberg's e-mail and web addresses
        rows.append(
            {
                "id": book.name,
                "source": "books",
                "kind": "books",
                "url": urls[i % len(urls)],
                "text": book.read_bytes().decode("utf-8", "replace"),
            }
        )
    table, n = docs_table(rows), len(rows)
    mb = sum(len(r["text"].encode()) for r in rows) / 1e6
    print(f"{n} docs ({mb:.1f} MB), 1 process; docs/s per core, best of 3 interleaved rounds")

    pii, url = PiiStage(), UrlFilterStage()
    r = _best({"pii": lambda: pii.apply(table, None), "url": lambda: url.apply(table, None)}, n)
    print(f"pii           ours {r['pii']:9.0f} docs/s ({r['pii'] * mb / n:.1f} MB/s)")
    print(f"url_filter    ours {r['url']:9.0f} docs/s")
    ours = dict(r)

    with tempfile.TemporaryDirectory() as d:
        ev = _eval_file(corpus, Path(d))
        dc = DecontaminateStage(DecontaminateStage.Config(eval_files=[str(ev)], mode="cut"))
        state = dc.fit(FitContext([], Path(d), 7, lambda fn, items: [fn(x) for x in items], log=lambda s: None))
        r = _best({"dc": lambda: dc.apply(table, state)}, n)
        print(
            f"decontaminate ours {r['dc']:9.0f} docs/s ({r['dc'] * mb / n:.1f} MB/s; index "
            f"{len(state['sets']['books']):,} 13-grams)"
        )
        drop = DecontaminateStage(DecontaminateStage.Config(eval_files=[str(ev)], mode="drop"))
        dropped = set(drop.apply(table, state).dropped.column("id").to_pylist())
        ours.update(dc=r["dc"], contaminated=[row["id"] in dropped for row in rows])
        _datatrove_anchors(corpus, rows, pii, url, ev, ours)

    fix = FixTextStage()
    texts = [r["text"] for r in rows]
    cfg = fix.ftfy_config._replace(explain=False)
    r = _best(
        {"ours": lambda: fix.apply(table, None), "ftfy": lambda: [ftfy.fix_text(t, config=cfg) for t in texts]}, n
    )
    print(
        f"fix_text      ours {r['ours']:9.0f} docs/s   ftfy.fix_text (same settings) {r['ftfy']:9.0f} docs/s   "
        f"ratio {r['ours'] / r['ftfy']:.2f}"
    )

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = []
    for f in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py")):
        try:
            code.append(
                {
                    "id": str(f),
                    "source": "code",
                    "kind": "code",
                    "url": str(f),
                    "text": f.read_text(encoding="utf-8"),
                    "meta": {"lang": "python"},
                }
            )
        except (UnicodeDecodeError, OSError):
            continue
    ctable, cf = docs_table(code), CodeFilterStage()
    r = _best({"cf": lambda: cf.apply(ctable, None)}, len(code))
    print(
        f"code_filters  ours {r['cf']:9.0f} docs/s on {len(code)} stdlib modules "
        f"({sum(len(c['text']) for c in code) / 1e6:.1f} MB)   anchor StarCoder's filters: not packaged, "
        "no side-by-side figure"
    )
