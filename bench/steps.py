"""Throughput of the steps of issue 24, single process (docs/s per core): pii, url_filter, decontaminate,
code_filters, fix_text, each beside its anchor where one is installed here (ftfy's own ``fix_text`` for
``fix_text``; datatrove, whose PII formatter, URL filter and n-gram decontamination are the anchors of the
others, is not installed, and StarCoder's filter code is not packaged: said so in the output).

Data: the 400 real documents of ``dedup/docs.jsonl`` repeated ``--repeat`` times, given the real URLs of the
256 web pages in turn; decontamination against the ablation's held-out chunks of three real books; code
filters on the modules of the CPython standard library.
"""
from __future__ import annotations

import importlib.util
import json
import os
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


def _best(fns: dict, n: int, reps: int = 3) -> dict[str, float]:
    times, _ = interleaved(fns, reps)
    return {k: n / min(v) for k, v in times.items()}


def _anchor(module: str, what: str) -> str:
    return "installed" if importlib.util.find_spec(module) else f"{what}: not installed here, no side-by-side figure"


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


def main(argv: list[str]) -> None:
    repeat = int(next((a.split("=", 1)[1] for a in argv if a.startswith("--repeat=")), "3"))
    corpus = Path(os.environ.get("CURATE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    urls = [json.loads(line)["url"] for line in (corpus / "web" / "pages.jsonl").open(encoding="utf-8")]
    rows = []
    for k in range(repeat):
        for i, line in enumerate((corpus / "dedup" / "docs.jsonl").open(encoding="utf-8")):
            r = json.loads(line)
            rows.append({"id": f"{r['id']}-{k}", "source": "web", "kind": "web", "url": urls[i % len(urls)],
                         "text": r["text"]})
    table, n = docs_table(rows), len(rows)
    mb = sum(len(r["text"].encode()) for r in rows) / 1e6
    print(f"{n} docs ({mb:.1f} MB), 1 process; docs/s per core, best of 3 interleaved rounds")

    pii, url = PiiStage(), UrlFilterStage()
    r = _best({"pii": lambda: pii.apply(table, None), "url": lambda: url.apply(table, None)}, n)
    print(f"pii           ours {r['pii']:9.0f} docs/s ({r['pii'] * mb / n:.1f} MB/s)   anchor "
          f"{_anchor('datatrove', 'datatrove PIIFormatter')}")
    print(f"url_filter    ours {r['url']:9.0f} docs/s   anchor {_anchor('datatrove', 'datatrove URLFilter')}")

    with tempfile.TemporaryDirectory() as d:
        ev = _eval_file(corpus, Path(d))
        dc = DecontaminateStage(DecontaminateStage.Config(eval_files=[str(ev)], mode="cut"))
        state = dc.fit(FitContext([], Path(d), 7, lambda fn, items: [fn(x) for x in items], log=lambda s: None))
        r = _best({"dc": lambda: dc.apply(table, state)}, n)
    print(f"decontaminate ours {r['dc']:9.0f} docs/s ({r['dc'] * mb / n:.1f} MB/s; index "
          f"{len(state['sets']['books']):,} 13-grams)   anchor {_anchor('datatrove', 'datatrove n-gram decontamination')}")

    fix = FixTextStage()
    texts = [r["text"] for r in rows]
    cfg = fix.ftfy_config._replace(explain=False)
    r = _best({"ours": lambda: fix.apply(table, None), "ftfy": lambda: [ftfy.fix_text(t, config=cfg) for t in texts]}, n)
    print(f"fix_text      ours {r['ours']:9.0f} docs/s   ftfy.fix_text (same settings) {r['ftfy']:9.0f} docs/s   "
          f"ratio {r['ours'] / r['ftfy']:.2f}")

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = []
    for f in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py")):
        try:
            code.append({"id": str(f), "source": "code", "kind": "code", "url": str(f),
                         "text": f.read_text(encoding="utf-8"), "meta": {"lang": "python"}})
        except (UnicodeDecodeError, OSError):
            continue
    ctable, cf = docs_table(code), CodeFilterStage()
    r = _best({"cf": lambda: cf.apply(ctable, None)}, len(code))
    print(f"code_filters  ours {r['cf']:9.0f} docs/s on {len(code)} stdlib modules "
          f"({sum(len(c['text']) for c in code) / 1e6:.1f} MB)   anchor StarCoder's filters: not packaged, "
          "no side-by-side figure")
