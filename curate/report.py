"""``runs/<r>/report.html``: one self-contained page (plots embedded as PNG) showing what a run did.

Sections appear when their data exists: per-stage accounting by reason and source, quality scores with
the Pareto keep curve, languages, dedup clusters with example pairs, the mixture table, tokenizer
stats and the trainer's loss curve.

Scale: the driver never holds per-document data. Stage outputs are scanned part by part, batch by batch,
into bounded aggregates (fixed histogram bins, a counter per language, the first few examples); cluster
sizes come from the dedup stages' own summaries. Scores span decades (1e-5 to 1), so the quality
histogram has log-spaced bins on a log axis; language counts are on a log scale so small languages show.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.io import inside_run
from curate.schema import meta_dicts

BATCH_ROWS = 4096
EXAMPLES = 8


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _cell(v: Any, run: Path | None = None) -> str:
    """A table cell: floats to 4 significant digits, paths inside the run relative to it."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, str) and run is not None and os.path.isabs(v):
        try:
            return os.path.relpath(v, run.resolve()) if Path(v).resolve().is_relative_to(run.resolve()) else v
        except (OSError, ValueError):
            return v
    return str(v)


def _table(header: list[str], rows: list[list[Any]], run: Path | None = None) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(c, run))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return float(f"{obj:.4g}")
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


def _stage(summary: dict, name: str) -> dict | None:
    return next((s for s in summary["stages"] if s["stage"] == name), None)


def _scan(paths: Iterable[Path], columns: list[str], fn: Callable[[pa.Table, list[dict]], None]) -> None:
    """Call ``fn(batch, metas)`` for every batch of the given Parquet parts (memory: one batch)."""
    for p in paths:
        pf = pq.ParquetFile(p)
        cols = [c for c in columns if c in pf.schema_arrow.names]
        for rb in pf.iter_batches(batch_size=BATCH_ROWS, columns=cols):
            t = pa.Table.from_batches([rb])
            fn(t, meta_dicts(t) if "meta" in t.column_names else [{}] * t.num_rows)


def _parts(run: Path, root: str, stage: dict) -> list[Path]:
    return sorted(inside_run(run, f"{root}/{stage['dir']}", "summary.json stage dir").glob("part-*.parquet"))


def _check_dirs(run: Path, summary: dict) -> None:
    """Every stage directory a (hand-edited) summary names must be a step directory of this run."""
    for st in summary["stages"]:
        d = st.get("dir") if isinstance(st, dict) else None
        for root in ("stages", "dropped"):
            inside_run(run, f"{root}/{d}" if isinstance(d, str) else d, "summary.json stage dir")


def _through(run: Path, summary: dict, stage: dict) -> list[Path]:
    """Parts holding every row that came out of ``stage`` (kept or dropped by it). A fused step's kept
    rows are not written; they are the rows the following fused steps dropped plus the kept rows of the
    segment's last (materialised) step."""
    files = _parts(run, "dropped", stage)
    steps = summary["stages"]
    at = next(i for i, s in enumerate(steps) if s["dir"] == stage["dir"])
    for s in steps[at:]:
        if s["dir"] != stage["dir"]:
            files += _parts(run, "dropped", s)
        if s.get("materialized", True):
            return files + _parts(run, "stages", s)
    return files


def _number(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


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
    if sources:  # a run whose sources yielded nothing has no labelled bars (matplotlib would warn on stderr)
        ax.legend(fontsize=8)
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    out += _png(fig)
    by_src = []
    for s in summary["stages"]:
        for src, c in s["by_source"].items():
            by_src.append([s["dir"], src, c.get("in", 0), c.get("kept", 0), c.get("dropped", 0), c.get("errors", 0)])
    return out + "<details><summary>by source</summary>" + _table(
        ["stage", "source", "in", "kept", "dropped", "errored"], by_src) + "</details>"


QUALITY_BINS = np.logspace(-6, 0, 49)  # 1e-6 .. 1, 8 bins a decade; lower scores go to the first bin


def quality_histogram(run: Path, summary: dict, st: dict) -> dict[str, Any]:
    """Counts of kept and dropped documents per log-spaced score bin, and the Pareto alpha used."""
    counts = {"kept": np.zeros(len(QUALITY_BINS) - 1, np.int64), "dropped": np.zeros(len(QUALITY_BINS) - 1, np.int64)}
    alpha: list[float] = []

    def add(which: str) -> Callable[[pa.Table, list[dict]], None]:
        def fn(t: pa.Table, metas: list[dict]) -> None:
            xs = [x for m in metas if (x := _number(m.get("quality_score"))) is not None]
            if xs:
                counts[which] += np.histogram(np.clip(xs, QUALITY_BINS[0], 1.0), QUALITY_BINS)[0]
            if not alpha and metas and _number(metas[0].get("quality_alpha")) is not None:
                alpha.append(float(metas[0]["quality_alpha"]))
        return fn

    own = _parts(run, "dropped", st)
    _scan([p for p in _through(run, summary, st) if p not in own], ["meta"], add("kept"))
    _scan(own, ["meta"], add("dropped"))
    fit = st.get("fit") or {}
    return {**counts, "alpha": alpha[0] if alpha else _number(fit.get("alpha")) or 9.0}


def _quantiles(counts: np.ndarray, qs: tuple[float, ...] = (0.1, 0.5, 0.9)) -> list[str]:
    total = counts.sum()
    if not total:
        return ["" for _ in qs]
    cum = np.cumsum(counts) / total
    return [f"≤ {QUALITY_BINS[int(np.searchsorted(cum, q)) + 1]:.2g}" for q in qs]


def quality_figure(h: dict[str, Any]) -> Any:
    """Stacked kept/dropped histogram over log-spaced score bins with the Pareto keep curve."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    widths = np.diff(QUALITY_BINS)
    ax.bar(QUALITY_BINS[:-1], h["kept"], width=widths, align="edge", label="kept")
    ax.bar(QUALITY_BINS[:-1], h["dropped"], width=widths, align="edge", bottom=h["kept"], label="dropped")
    ax.set_xscale("log")
    ax2 = ax.twinx()
    xs = np.logspace(-6, 0, 200)
    ax2.plot(xs, (2 - xs) ** -h["alpha"], color="k", label=f"P(keep) = P(pareto({h['alpha']:g}) > 1 - score)")
    ax2.set_ylim(0, 1.05)
    ax.set_xlabel("quality score (log scale)")
    ax.set_ylabel("documents")
    ax.legend(loc="upper left", fontsize=8)
    ax2.legend(loc="upper center", fontsize=8)
    return fig


def section_quality(run: Path, summary: dict) -> str:
    st = _stage(summary, "quality")
    if not st:
        return ""
    h = quality_histogram(run, summary, st)
    if not (h["kept"].sum() + h["dropped"].sum()):
        return ""
    fig = quality_figure(h)
    quant = _table(["documents", "count", "10% at", "median at", "90% at"],
                   [[k, int(h[k].sum()), *_quantiles(h[k])] for k in ("kept", "dropped")])
    fit = st.get("fit") or {}
    metrics = {k: v for k, v in fit.items() if isinstance(v, (int, float, str))}
    return _png(fig) + quant + (_table(list(metrics), [list(metrics.values())], run) if metrics else "")


def language_counts(run: Path, summary: dict, st: dict) -> Counter:
    counts: Counter[str] = Counter()
    _scan(_through(run, summary, st), ["meta"],
          lambda t, metas: counts.update(str(m["lang"]) for m in metas if "lang" in m))
    return counts


def language_figure(counts: list[tuple[str, int]]) -> Any:
    """Documents per language on a log scale (one ``en`` bar would otherwise flatten all others)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar([c for c, _ in counts], [n for _, n in counts])
    ax.set_yscale("log")
    ax.set_ylim(0.5, max(n for _, n in counts) * 2)
    ax.set_ylabel("documents (log scale)")
    ax.set_title("Detected language (top 20), before the language filter")
    return fig


def section_languages(run: Path, summary: dict) -> str:
    st = _stage(summary, "langid")
    if not st:
        return ""
    counts = language_counts(run, summary, st).most_common(20)
    if not counts:
        return ""
    return _png(language_figure(counts)) + _table(["language", "documents"], counts)


def dedup_examples(run: Path, st: dict) -> list[list[Any]]:
    """The first EXAMPLES removed documents: kept id, removed source, similarity, removed URL."""
    out: list[list[Any]] = []

    def fn(t: pa.Table, metas: list[dict]) -> None:
        for src, url, m in zip(t.column("source").to_pylist(), t.column("url").to_pylist(), metas):
            if len(out) < EXAMPLES and "dup_of" in m:
                out.append([str(m["dup_of"])[:12], src, _number(m.get("dup_sim")) or "", (url or "")[:80]])

    for p in _parts(run, "dropped", st):
        if len(out) >= EXAMPLES:
            break
        _scan([p], ["source", "url", "meta"], fn)
    return out


def section_dedup(run: Path, summary: dict) -> str:
    import matplotlib.pyplot as plt

    out = ""
    for name in ("dedup_exact", "dedup"):
        st = _stage(summary, name)
        if not st:
            continue
        removed = st["dropped"].get("dedup:exact" if name == "dedup_exact" else "dedup:near", 0)
        if not removed:
            out += f"<p>{name}: no duplicates removed.</p>"
            continue
        fit = st.get("fit") or {}
        sizes = {int(k): v for k, v in (fit.get("group_sizes") or fit.get("cluster_sizes") or {}).items()}
        if sizes:
            fig, ax = plt.subplots(figsize=(6, 3))
            ax.bar([str(k) for k in sorted(sizes)], [sizes[k] for k in sorted(sizes)])
            ax.set_xlabel("cluster size (kept + removed)")
            ax.set_ylabel("clusters")
            ax.set_yscale("log")
            ax.set_title(f"{name}: {removed} documents removed")
            out += _png(fig)
        out += _table(["kept id", "removed source", "similarity", "removed url"], dedup_examples(run, st))
        if fit:
            out += f"<pre>{html.escape(json.dumps(_rounded(fit), indent=1, default=str)[:3000])}</pre>"
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
                   sum(len(v) for v in (m.get("splits") or {}).values())]], run)
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


def _section(title: str, render: Callable[[], str]) -> str:
    """A section's HTML; a file it reads that is damaged or edited by hand (a killed trainer's metrics, a
    manifest) costs that section only, said in its place."""
    try:
        return render()
    except Exception as e:  # noqa: BLE001 - the rest of the report still renders
        return f"<p>not shown: {html.escape(type(e).__name__)}: {html.escape(str(e)[:300])}</p>"


def write_report(run_dir: str | Path) -> Path:
    """Render ``run_dir/report.html`` from summary.json, the stage outputs and logs; return its path."""
    import matplotlib

    matplotlib.use("Agg")
    run = Path(run_dir)
    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        summary["recipe"], summary["stages"]  # noqa: B018 - what every section needs
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{run}: no readable summary.json (not a finished curate run?): {e}") from None
    _check_dirs(run, summary)
    sections = [(title, _section(title, fn)) for title, fn in [
        ("Stages", lambda: section_stages(summary)), ("Quality classifier", lambda: section_quality(run, summary)),
        ("Languages", lambda: section_languages(run, summary)), ("Deduplication", lambda: section_dedup(run, summary)),
        ("Mixture", lambda: section_mix(summary)), ("Tokenizer and shards", lambda: section_tokens(run, summary)),
        ("Trainer", lambda: section_trainer(run))]]
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
