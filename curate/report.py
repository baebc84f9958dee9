"""``runs/<r>/report.html``: one self-contained page (charts as inline SVG, ``curate.svgplot``) showing what a
run did.

Sections appear when their data exists: per-stage accounting by reason and source, quality scores with
the Pareto keep curve, languages, dedup clusters with example pairs, the mixture table, tokenizer
stats and the trainer's loss curve.

Scale: the driver never holds per-document data. Stage outputs are scanned part by part, batch by batch,
into bounded aggregates (fixed histogram bins, a counter per language, the first few examples); cluster
sizes come from the dedup stages' own summaries. Scores span decades (1e-5 to 1), so the quality
histogram has log-spaced bins on a log axis; language counts are on a log scale so small languages show.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.batches import read_batches
from curate.io import inside_run
from curate.schema import meta_dicts
from curate.svgplot import Line, bar_chart, histogram, line_chart

EXAMPLES = 8
TOP = 20  # sources (or languages, reasons...) shown one by one; the rest are summed into "others"
TABLE_TOP = 50


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


def _top(counts: dict[str, int], k: int = TOP) -> list[tuple[str, int]]:
    """The ``k`` largest of ``counts`` (ties by name), then one ``others (N)`` row summing the rest."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    rest = ranked[k:]
    return ranked[:k] + ([(f"others ({len(rest):,})", sum(n for _, n in rest))] if rest else [])


def _source_rows(by_source: dict[str, dict], k: int, order: list[str] | None = None) -> list[tuple[str, dict]]:
    """The ``k`` sources with the most documents in (or those named in ``order``, an earlier call's result),
    then one ``others (N)`` row with the rest's counts summed."""
    label = None
    if order is not None:
        named = order[:k]
        label = order[k] if len(order) > k else "others"
        keep = set(named)
        rest = [(src, c) for src, c in by_source.items() if src not in keep]
        head = [(src, by_source.get(src, {})) for src in named]
    else:
        ranked = sorted(by_source.items(), key=lambda kv: (-kv[1].get("in", 0), kv[0]))
        head, rest = ranked[:k], ranked[k:]
    total: Counter[str] = Counter()
    for _, c in rest:
        total.update(c)
    return head + ([(label or f"others ({len(rest):,})", dict(total))] if rest else [])


def _flat(obj: Any, prefix: str = "", limit: int = TABLE_TOP) -> list[list[Any]]:
    """A nested dict or list (a stage's fit summary) as ``[key path, value]`` rows, at most ``limit`` of them
    and a last row saying how many were left out."""
    rows: list[list[Any]] = []
    left = 0

    def walk(o: Any, path: str) -> None:
        nonlocal left
        if isinstance(o, dict) and o:
            for k, v in o.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(o, list) and o and any(isinstance(v, (dict, list)) for v in o):
            for i, v in enumerate(o):
                walk(v, f"{path}[{i}]")
        elif len(rows) < limit:
            rows.append([path, ", ".join(_cell(v) for v in o) if isinstance(o, list) else o])
        else:
            left += 1

    walk(obj, prefix)
    return rows + ([[f"... {left:,} more values", ""]] if left else [])


def _stage(summary: dict, name: str) -> dict | None:
    return next((s for s in summary["stages"] if s["stage"] == name), None)


def _scan(paths: Iterable[Path], columns: list[str], fn: Callable[[pa.Table, list[dict]], None]) -> None:
    """Call ``fn(batch, metas)`` for every batch of the given Parquet parts (memory: one batch)."""
    for p in paths:
        names = pq.read_schema(p).names
        for t in read_batches(p, [c for c in columns if c in names]):
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
    rows = []
    for s in summary["stages"]:
        reasons = Counter(s["dropped"]) + Counter(s["errors"])
        top = ", ".join(f"{r}: {n}" for r, n in reasons.most_common(6))
        ran = "reused (ran earlier)" if s.get("reused") else "ran in this run"
        rows.append(
            [
                s["dir"],
                s["in"],
                s["kept"],
                s["dropped_total"],
                s["errors_total"],
                "yes" if s["reconciles"] else "NO",
                s.get("seconds", ""),
                ran,
                top,
            ]
        )
    out = _table(
        [
            "stage",
            "in",
            "kept",
            "dropped",
            "errored",
            "in = kept+dropped+errored",
            "seconds (when it ran)",
            "",
            "top reasons",
        ],
        rows,
    )
    # the TOP sources by documents read, the others summed: a run of 10,000 sources draws 21 bars a stage
    first = summary["stages"][0]["by_source"] if summary["stages"] else {}
    shown = [src for src, _ in _source_rows(first, TOP)]
    per_stage = [dict(_source_rows(s["by_source"], TOP, shown)) for s in summary["stages"]]
    out += bar_chart(
        [s["dir"] for s in summary["stages"]],
        [(src, [rows.get(src, {}).get("kept", 0) for rows in per_stage]) for src in shown],
        title="Documents kept after each stage, by source",
        ylabel="documents kept",
        width=900,
        height=330,
    )
    by_src = []
    for s in summary["stages"]:
        for src, c in _source_rows(s["by_source"], TABLE_TOP):
            by_src.append([s["dir"], src, c.get("in", 0), c.get("kept", 0), c.get("dropped", 0), c.get("errors", 0)])
    return (
        out
        + "<details><summary>by source</summary>"
        + _table(["stage", "source", "in", "kept", "dropped", "errored"], by_src)
        + "</details>"
    )


def section_reasons(summary: dict) -> str:
    """Every step's drop and error reasons: a count bar and the first examples of each (full id, source, the
    start of the text), which the tasks collected while they ran (``curate.tally.Tally``)."""
    out = ""
    for s in summary["stages"]:
        counts = Counter(s.get("dropped") or {}) + Counter(s.get("errors") or {})
        if not counts:
            continue
        examples = s.get("examples") or {}
        top = max(counts.values())
        rows = []
        for reason, n in _top(counts, TOP):
            ex = "".join(
                f"<div class=ex><code>{html.escape(str(rid))}</code> ({html.escape(str(src))}): "
                f"{html.escape(str(text))}</div>"
                for rid, src, text in (examples.get(reason) or [])[:3]
            )
            if reason not in counts:
                ex = "<div class=ex>(examples are shown for the top reasons only)</div>"
            elif not ex:
                ex = "<div class=ex>(no example kept: more reasons than the tasks keep examples for)</div>"
            rows.append(
                f"<tr><td>{html.escape(reason)}</td><td>{n:,}</td><td class=barcell><div class=bar "
                f"style='width:{100 * n / top:.1f}%'></div></td><td class=exs>{ex}</td></tr>"
            )
        out += (
            f"<h3>{html.escape(s['dir'])}: {s['dropped_total']:,} dropped, {s['errors_total']:,} errored</h3>"
            "<table><thead><tr><th>reason</th><th>documents</th><th></th><th>examples (id, source: text)"
            f"</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return out


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


def quality_figure(h: dict[str, Any]) -> str:
    """Stacked kept/dropped histogram over log-spaced score bins with the Pareto keep curve (inline SVG)."""
    xs = np.logspace(-6, 0, 200)
    keep = Line(f"P(keep) = P(pareto({h['alpha']:g}) > 1 - score)", xs.tolist(), ((2 - xs) ** -h["alpha"]).tolist())
    return histogram(
        QUALITY_BINS.tolist(),
        [("kept", h["kept"].tolist()), ("dropped", h["dropped"].tolist())],
        xlabel="quality score (log scale)",
        ylabel="documents",
        log_x=True,
        curve=keep,
        width=860,
    )


def section_quality(run: Path, summary: dict) -> str:
    st = _stage(summary, "quality")
    if not st:
        return ""
    h = quality_histogram(run, summary, st)
    if not (h["kept"].sum() + h["dropped"].sum()):
        return ""
    quant = _table(
        ["documents", "count", "10% at", "median at", "90% at"],
        [[k, int(h[k].sum()), *_quantiles(h[k])] for k in ("kept", "dropped")],
    )
    fit = st.get("fit") or {}
    metrics = {k: v for k, v in fit.items() if isinstance(v, (int, float, str))}
    return quality_figure(h) + quant + (_table(list(metrics), [list(metrics.values())], run) if metrics else "")


def language_counts(run: Path, summary: dict, st: dict) -> Counter:
    counts: Counter[str] = Counter()
    _scan(
        _through(run, summary, st),
        ["meta"],
        lambda t, metas: counts.update(str(m["lang"]) for m in metas if "lang" in m),
    )
    return counts


def language_figure(counts: list[tuple[str, int]], title: str = "Detected language") -> str:
    """Documents per language on a log scale (one ``en`` bar would otherwise flatten all others), inline SVG."""
    return bar_chart(
        [c for c, _ in counts], [("", [n for _, n in counts])], title=title, ylabel="documents (log scale)", log=True
    )


def _langid_languages(run: Path, st: dict) -> list[str] | None:
    """The ``languages`` the run's langid step kept (None: every language), from the run's recipe.json."""
    try:
        recipe = json.loads((run / "recipe.json").read_text(encoding="utf-8"))["recipe"]
        index = int(st["dir"].split("_", 1)[0]) - 1
        config = recipe["stages"][index]["langid"] or {}
        langs = config.get("languages")
        return [str(x) for x in langs] if isinstance(langs, list) else None
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        # no readable recipe: whether langid dropped anything for its language says the same
        return [] if any(r.startswith("lang:") for r in st.get("dropped", {})) else None


def section_languages(run: Path, summary: dict) -> str:
    st = _stage(summary, "langid")
    if not st:
        return ""
    counts = _top(language_counts(run, summary, st), TOP)
    if not counts:
        return ""
    title = language_title(run, st)
    return f"<p>{html.escape(title)}</p>" + language_figure(counts, title) + _table(["language", "documents"], counts)


def language_title(run: Path, st: dict) -> str:
    """What the language chart shows, as the recipe's langid step has it."""
    langs = _langid_languages(run, st)
    if langs is None:
        return f"Detected language (top {TOP}); langid keeps every language (no languages list)"
    return f"Detected language (top {TOP}) of the documents entering the language filter" + (
        f" (keeps {', '.join(langs[:8])}{' ...' if len(langs) > 8 else ''})" if langs else ""
    )


def dedup_examples(run: Path, st: dict) -> list[list[Any]]:
    """The first EXAMPLES removed documents: kept id, removed source, similarity, removed URL."""
    out: list[list[Any]] = []

    def fn(t: pa.Table, metas: list[dict]) -> None:
        for src, url, m in zip(t.column("source").to_pylist(), t.column("url").to_pylist(), metas):
            if len(out) < EXAMPLES and "dup_of" in m:
                out.append([str(m["dup_of"]), src, _number(m.get("dup_sim")) or "", url or ""])

    for p in _parts(run, "dropped", st):
        if len(out) >= EXAMPLES:
            break
        _scan([p], ["source", "url", "meta"], fn)
    return out


def section_dedup(run: Path, summary: dict) -> str:
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
            out += bar_chart(
                [str(k) for k in sorted(sizes)],
                [("", [sizes[k] for k in sorted(sizes)])],
                title=f"{name}: {removed} documents removed",
                xlabel="cluster size (kept + removed)",
                ylabel="clusters",
                log=True,
                width=560,
            )
        out += _table(["kept id", "removed source", "similarity", "removed url"], dedup_examples(run, st))
        rest = {k: v for k, v in fit.items() if k not in ("group_sizes", "cluster_sizes")}
        if rest:
            out += (
                f"<details><summary>{html.escape(name)}: fit summary</summary>"
                + _table(["setting or figure", "value"], _flat(rest))
                + "</details>"
            )
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
    out = _table(
        ["vocab", "dtype", "end-of-document", "tokenizer", "train tokens", "val tokens", "shards"],
        [
            [
                m.get("vocab_size"),
                m.get("dtype"),
                f"{m.get('eod_token')} = {m.get('eod_id')}",
                tok.get("path"),
                (m.get("tokens") or {}).get("train"),
                (m.get("tokens") or {}).get("val"),
                sum(len(v) for v in (m.get("splits") or {}).values()),
            ]
        ],
        run,
    )
    rows = []
    for split, per in (m.get("per_source") or {}).items():
        ranked = sorted(per.items(), key=lambda kv: (-(_number(kv[1].get("tokens")) or 0), kv[0]))
        for src, c in ranked[:TABLE_TOP]:
            rows.append([split, src, c.get("documents"), c.get("tokens"), c.get("chars"), c.get("chars_per_token")])
        if len(ranked) > TABLE_TOP:
            rest = ranked[TABLE_TOP:]
            rows.append(
                [
                    split,
                    f"others ({len(rest):,})",
                    sum(_number(c.get("documents")) or 0 for _, c in rest),
                    sum(_number(c.get("tokens")) or 0 for _, c in rest),
                    "",
                    "",
                ]
            )
    return out + _table(["split", "source", "documents", "tokens", "chars", "chars/token"], rows)


def section_trainer(run: Path) -> str:
    f = run / "trainer" / "metrics.json"
    if not f.exists():
        return ""
    hist = json.loads(f.read_text())
    if not hist.get("train"):
        return ""
    lines = [Line("train", *zip(*hist["train"]), width=0.8)]
    if hist.get("val"):
        lines.append(Line("validation", *zip(*hist["val"]), markers=True))
    title = (
        f"trainer on {hist.get('device')}: {hist.get('params', 0):,} parameters, "
        f"{hist.get('tokens_per_s', 0):,.0f} tokens/s"
    )
    return line_chart(lines, title=title, xlabel="step", ylabel="loss")


CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right;overflow-wrap:anywhere}th{background:#eef}td:first-child{text-align:left}
svg{display:block;max-width:100%;height:auto;margin:.5em 0}
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
h2{border-bottom:2px solid #99c;margin-top:2em}td.barcell{width:160px}div.bar{background:#669;height:10px}
td.exs{text-align:left;max-width:640px}div.ex{margin:2px 0;font-size:12px}code{overflow-wrap:anywhere}"""


def _section(title: str, render: Callable[[], str]) -> str:
    """A section's HTML; a file it reads that is damaged or edited by hand (a killed trainer's metrics, a
    manifest) costs that section only, said in its place."""
    try:
        return render()
    except Exception as e:  # noqa: BLE001 - the rest of the report still renders
        return f"<p>not shown: {html.escape(type(e).__name__)}: {html.escape(str(e)[:300])}</p>"


def _timing(summary: dict) -> str:
    """The stages' time when they ran (over every run that worked on them) and this invocation's."""
    stages = summary.get("stages") or []
    reused = sum(1 for s in stages if s.get("reused"))
    total = summary.get("stage_seconds", sum(_number(s.get("seconds")) or 0 for s in stages))
    text = f"stages took {_number(total) or 0:,.1f} s when they ran"
    if reused:
        text += (
            f" ({reused} of {len(stages)} reused from an earlier run; this run took "
            f"{_number(summary.get('seconds')) or 0:,.1f} s)"
        )
    return text


def write_report(run_dir: str | Path) -> Path:
    """Render ``run_dir/report.html`` from summary.json, the stage outputs and logs; return its path."""
    run = Path(run_dir)
    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        summary["recipe"], summary["stages"]  # noqa: B018 - what every section needs
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{run}: no readable summary.json (not a finished curate run?): {e}") from None
    _check_dirs(run, summary)
    sections = [
        (title, _section(title, fn))
        for title, fn in [
            ("Stages", lambda: section_stages(summary)),
            ("Drop reasons", lambda: section_reasons(summary)),
            ("Quality classifier", lambda: section_quality(run, summary)),
            ("Languages", lambda: section_languages(run, summary)),
            ("Deduplication", lambda: section_dedup(run, summary)),
            ("Mixture", lambda: section_mix(summary)),
            ("Tokenizer and shards", lambda: section_tokens(run, summary)),
            ("Trainer", lambda: section_trainer(run)),
        ]
    ]
    body = "".join(f"<h2>{html.escape(t)}</h2>{s}" for t, s in sections if s)
    name = html.escape(str(summary["recipe"]))
    head = (
        f"<h1>curate run: {name}</h1><p>recipe digest {html.escape(str(summary.get('recipe_digest')))}, "
        f"seed {html.escape(str(summary.get('seed')))}, workers {html.escape(str(summary.get('workers')))}; "
        f"{html.escape(_timing(summary))}; every stage reconciles: "
        f"<b>{'yes' if summary.get('reconciles') else 'NO'}</b></p>"
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>curate report: {name}"
        f"</title><style>{CSS}</style></head><body>{head}{body}</body></html>"
    )
    out = run / "report.html"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
