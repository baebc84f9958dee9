"""``runs/<r>/report.html``: one self-contained page (plots embedded as PNG) showing what a run did.

Sections appear when their data exists: per-stage accounting by reason and source, quality scores with
the Pareto keep curve, languages, dedup clusters with example pairs, the mixture table, tokenizer
stats and the trainer's loss curve.
"""
from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from curate.schema import meta_dicts


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _stage(summary: dict, name: str) -> dict | None:
    return next((s for s in summary["stages"] if s["stage"] == name), None)


def _meta_rows(paths: list[Path], key: str, own_drops: list[Path] | None = None
               ) -> Iterator[tuple[str, str, dict]]:
    """(source, reason-or-'', meta) for rows of the given Parquet files that carry meta[key], streamed batch
    by batch (the report's memory does not grow with the run); with ``own_drops``, only rows of those
    files keep their reason (the others were dropped by a later stage)."""
    for p in paths:
        if not p.exists():
            continue
        pf = pq.ParquetFile(p)
        cols = [c for c in ("source", "meta", "reason") if c in pf.schema_arrow.names]
        for rb in pf.iter_batches(batch_size=8192, columns=cols):
            t = pa.Table.from_batches([rb])
            reasons = t.column("reason").to_pylist() if "reason" in t.column_names else [""] * t.num_rows
            if own_drops is not None and p not in own_drops:
                reasons = [""] * t.num_rows
            for src, m, reason in zip(t.column("source").to_pylist(), meta_dicts(t), reasons):
                if key in m:
                    yield src, reason or "", m


def _parts(run: Path, root: str, stage: dict) -> list[Path]:
    return sorted((run / root / stage["dir"]).glob("part-*.parquet"))


def _through(run: Path, summary: dict, stage: dict) -> list[Path]:
    """Parts holding every row that came out of ``stage`` (kept or dropped by it). A fused step's kept
    rows are not written; they are the rows the following fused steps dropped plus the kept rows of the
    segment's last (materialised) step."""
    files = _parts(run, "dropped", stage)
    steps = summary["stages"]
    for s in steps[steps.index(stage):]:
        if s is not stage:
            files += _parts(run, "dropped", s)
        if s.get("materialized", True):
            return files + _parts(run, "stages", s)
    return files


def section_stages(summary: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for s in summary["stages"]:
        reasons = Counter(s["dropped"]) + Counter(s["errors"])
        top = ", ".join(f"{r}: {n}" for r, n in reasons.most_common(6))
        rows.append([s["dir"], s["in"], s["kept"], s["dropped_total"], s["errors_total"],
                     "yes" if s["reconciles"] else "NO", s.get("seconds", ""), top])
    out = _table(["stage", "in", "kept", "dropped", "errored", "in = kept+dropped+errored", "seconds",
                  "top reasons"], rows)
    sources = sorted({src for s in summary["stages"] for src in s["by_source"]})
    fig, ax = plt.subplots(figsize=(10, 3.5))
    names = [s["dir"] for s in summary["stages"]]
    bottom = [0] * len(names)
    for src in sources:
        vals = [s["by_source"].get(src, {}).get("kept", 0) for s in summary["stages"]]
        ax.bar(names, vals, bottom=bottom, label=src)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel("documents kept")
    ax.set_title("Documents kept after each stage, by source")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    out += _png(fig)
    by_src = []
    for s in summary["stages"]:
        for src, c in s["by_source"].items():
            by_src.append([s["dir"], src, c.get("in", 0), c.get("kept", 0), c.get("dropped", 0), c.get("errors", 0)])
    return out + "<details><summary>by source</summary>" + _table(
        ["stage", "source", "in", "kept", "dropped", "errored"], by_src) + "</details>"


def section_quality(run: Path, summary: dict) -> str:
    import matplotlib.pyplot as plt
    import numpy as np

    st = _stage(summary, "quality")
    if not st:
        return ""
    bins = np.linspace(0, 1, 31)
    hist = {True: np.zeros(30, np.int64), False: np.zeros(30, np.int64)}  # dropped? -> counts per bin
    alpha = None
    for _, reason, m in _meta_rows(_through(run, summary, st), "quality_score", _parts(run, "dropped", st)):
        b = min(29, max(0, int(float(m["quality_score"]) * 30)))
        hist[bool(reason)][b] += 1
        alpha = alpha if alpha is not None else float(m.get("quality_alpha", 9))
    if alpha is None:
        return ""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist([bins[:-1], bins[:-1]], bins=bins, weights=[hist[False], hist[True]], stacked=True,
            label=["kept", "dropped"])
    ax2 = ax.twinx()
    xs = np.linspace(0, 1, 101)
    ax2.plot(xs, (2 - xs) ** -alpha, color="k", label=f"P(keep) = P(pareto({alpha:g}) > 1 - score)")
    ax2.set_ylim(0, 1.05)
    ax.set_xlabel("quality score")
    ax.set_ylabel("documents")
    ax.legend(loc="upper left", fontsize=8)
    ax2.legend(loc="upper center", fontsize=8)
    fit = st.get("fit") or {}
    metrics = {k: v for k, v in fit.items() if isinstance(v, (int, float, str))}
    return _png(fig) + (_table(list(metrics), [list(metrics.values())]) if metrics else "")


def section_languages(run: Path, summary: dict) -> str:
    import matplotlib.pyplot as plt

    st = _stage(summary, "langid")
    if not st:
        return ""
    counts = Counter(m["lang"] for _, _, m in _meta_rows(_through(run, summary, st), "lang")).most_common(20)
    if not counts:
        return ""
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar([c for c, _ in counts], [n for _, n in counts])
    ax.set_ylabel("documents")
    ax.set_title("Detected language (top 20), before the language filter")
    return _png(fig)


def section_dedup(run: Path, summary: dict) -> str:
    import matplotlib.pyplot as plt

    out = ""
    for name in ("dedup_exact", "dedup"):
        st = _stage(summary, name)
        if not st:
            continue
        # UNFINISHED: holds every removed document's (source, meta) while it counts clusters; at crawl scale
        # this should come from bounded per-task aggregates (the dedup rewrite owns the dedup summary).
        rows = list(_meta_rows(_parts(run, "dropped", st), "dup_of"))
        if not rows:
            out += f"<p>{name}: no duplicates removed.</p>"
            continue
        sizes = Counter(Counter(m["dup_of"] for _, _, m in rows).values())
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar([str(k + 1) for k in sorted(sizes)], [sizes[k] for k in sorted(sizes)])
        ax.set_xlabel("cluster size (kept + removed)")
        ax.set_ylabel("clusters")
        ax.set_title(f"{name}: {len(rows)} documents removed")
        examples = [[m["dup_of"][:12], src, m.get("dup_sim", ""), (m.get("url") or "")[:80]]
                    for src, _, m in rows[:8]]
        out += _png(fig) + _table(["kept id", "removed source", "similarity", "removed url"], examples)
        fit = st.get("fit") or {}
        if fit:
            out += f"<pre>{html.escape(json.dumps(fit, indent=1, default=str)[:3000])}</pre>"
    return out


def section_mix(summary: dict) -> str:
    st = _stage(summary, "mix")
    if not st:
        return ""
    fit = st.get("fit") or {}
    out = ""
    for text in (fit.get("table_text"), ((st.get("finalize") or {}).get("mix") or {}).get("realised_text")):
        if text:
            out += f"<pre>{html.escape(str(text))}</pre>"
    for w in fit.get("warnings") or []:
        out += f"<p><b>warning:</b> {html.escape(str(w))}</p>"
    return out


def section_tokens(run: Path, summary: dict) -> str:
    st = _stage(summary, "tokenize")
    manifest = run / "manifest.json"
    if not st or not manifest.exists():
        return ""
    m = json.loads(manifest.read_text())
    tok = m.get("tokenizer") or {}
    out = _table(["vocab", "dtype", "end-of-document", "tokenizer", "train tokens", "val tokens", "shards"],
                 [[m.get("vocab_size"), m.get("dtype"), f"{m.get('eod_token')} = {m.get('eod_id')}",
                   tok.get("path"), (m.get("tokens") or {}).get("train"), (m.get("tokens") or {}).get("val"),
                   sum(len(v) for v in (m.get("splits") or {}).values())]])
    rows = []
    for split, per in (m.get("per_source") or {}).items():
        for src, c in sorted(per.items()):
            rows.append([split, src, c.get("documents"), c.get("tokens"), c.get("chars"), c.get("chars_per_token")])
    return out + _table(["split", "source", "documents", "tokens", "chars", "chars/token"], rows)


def section_trainer(run: Path) -> str:
    import matplotlib.pyplot as plt

    f = run / "trainer" / "metrics.json"
    if not f.exists():
        return ""
    hist = json.loads(f.read_text())
    if not hist.get("train"):
        return ""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(*zip(*hist["train"]), label="train", lw=0.8)
    if hist.get("val"):
        ax.plot(*zip(*hist["val"]), marker="o", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"trainer on {hist.get('device')}: {hist.get('params', 0):,} parameters, "
                 f"{hist.get('tokens_per_s', 0):,.0f} tokens/s")
    ax.legend()
    return _png(fig)


CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#eef}td:first-child{text-align:left}img{max-width:100%}pre{background:#f6f6f6;
padding:1em;overflow:auto;font-size:12px}h2{border-bottom:2px solid #99c;margin-top:2em}"""


def write_report(run_dir: str | Path) -> Path:
    """Render ``run_dir/report.html`` from summary.json, the stage outputs and logs; return its path."""
    import matplotlib

    matplotlib.use("Agg")
    run = Path(run_dir)
    summary = json.loads((run / "summary.json").read_text())
    sections = [("Stages", section_stages(summary)), ("Quality classifier", section_quality(run, summary)),
                ("Languages", section_languages(run, summary)), ("Deduplication", section_dedup(run, summary)),
                ("Mixture", section_mix(summary)), ("Tokenizer and shards", section_tokens(run, summary)),
                ("Trainer", section_trainer(run))]
    body = "".join(f"<h2>{html.escape(t)}</h2>{s}" for t, s in sections if s)
    head = (f"<h1>curate run: {html.escape(summary['recipe'])}</h1><p>recipe digest {summary['recipe_digest']}, "
            f"seed {summary['seed']}, workers {summary.get('workers')}, {summary.get('seconds')} s; every stage "
            f"reconciles: <b>{'yes' if summary.get('reconciles') else 'NO'}</b></p>")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>curate report: {html.escape(summary['recipe'])}" \
           f"</title><style>{CSS}</style></head><body>{head}{body}</body></html>"
    out = run / "report.html"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
