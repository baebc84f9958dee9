"""Ablation outputs: statistics over seeds, ``ablation.json``, the printed table, a PNG of validation curves
and a self-contained ``ablation.html``."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from curate.ablate.stats import mean_std, paired_difference
from curate.io import write_json_atomic

METRICS = (("nats", 1, "nats/token"), ("bpb", 2, "bits/byte"))  # name, index in (step, nats, bpb), label


def summarize(record: dict[str, Any]) -> dict[str, Any]:
    """Final-step metrics per variant and evaluation set (mean and std over seeds), and the paired
    difference of each variant to the baseline with its 95% t-interval."""
    runs, base = record["runs"], record["baseline"]
    labels = list(runs)
    names = list(record["eval_files"])
    seeds = sorted(set.intersection(*(set(runs[v]) for v in labels)), key=int)
    out: dict[str, Any] = {"seeds": seeds, "results": {}, "differences": {}}
    for v in labels:
        out["results"][v] = {}
        for name in names:
            finals = [runs[v][s]["eval"][name][-1] for s in seeds]
            out["results"][v][name] = {m: mean_std([f[i] for f in finals]) for m, i, _ in METRICS}
    for v in labels:
        if v == base:
            continue
        out["differences"][v] = {
            name: {
                m: paired_difference(out["results"][v][name][m]["values"], out["results"][base][name][m]["values"])
                for m, _, _ in METRICS
            }
            for name in names
        }
    return out


def format_table(record: dict[str, Any]) -> str:
    s, base = record["summary"], record["baseline"]
    sizes = {v: b["tokens"] for v, b in record["variants"].items()}
    spread = (max(sizes.values()) - min(sizes.values())) / min(sizes.values()) if sizes else 0.0
    st = record["settings"]
    device = next(iter(next(iter(record["runs"].values())).values()))["device"]
    lines = [
        f"ablation of {record['recipe']}: {len(sizes)} variants x {len(s['seeds'])} seeds, {st['steps']} steps "
        f"of the {st['config']} GPT on {device}; {min(sizes.values()):,}-{max(sizes.values()):,} tokens per "
        f"variant (spread {spread:.2%})",
        f"{'eval':<10} {'variant':<14} {'nats/token':>17} {'bits/byte':>17}   "
        f"{'Δ bits/byte vs ' + base + ' [95% CI]':<36}",
    ]
    lines.append("-" * len(lines[-1]))
    for name in record["eval_files"]:
        for v, res in s["results"].items():
            n, b = res[name]["nats"], res[name]["bpb"]
            row = f"{name:<10} {v:<14} {n['mean']:>8.4f} ± {n['std']:.4f} {b['mean']:>8.4f} ± {b['std']:.4f}   "
            d = s["differences"].get(v, {}).get(name, {}).get("bpb")
            if d is not None:
                ci = f"[{d['low']:+.4f}, {d['high']:+.4f}]" if d["low"] is not None else "[one seed: no interval]"
                row += f"{d['mean']:+.4f} {ci}{' *' if d['excludes_zero'] else ''}"
            lines.append(row.rstrip())
    lines.append(
        "(mean ± std over seeds at the last step; Δ is paired by seed, * = the 95% t-interval excludes 0; "
        "lower is better)"
    )
    return "\n".join(lines)


def plot_curves(record: dict[str, Any], path: Path) -> None:
    """Validation curves (bits per byte on each evaluation set, mean over seeds, min-max band) per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(record["eval_files"])
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for v, seeds in record["runs"].items():
            curves = [seeds[s]["eval"][name] for s in record["summary"]["seeds"]]
            steps = [p[0] for p in curves[0]]
            ys = [[c[i][2] for c in curves] for i in range(len(steps))]
            mean = [sum(y) / len(y) for y in ys]
            (line,) = ax.plot(steps[1:], mean[1:], label=v)  # step 0 (random weights) would flatten the rest
            ax.fill_between(
                steps[1:], [min(y) for y in ys[1:]], [max(y) for y in ys[1:]], alpha=0.2, color=line.get_color()
            )
        ax.set_title(f"held-out {name}")
        ax.set_xlabel("training step")
        ax.set_ylabel("bits per byte")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_html(record: dict[str, Any], table: str, png: Path, path: Path) -> None:
    img = base64.b64encode(png.read_bytes()).decode()
    ev = record["eval_set"]
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{s['chunks']:,}</td><td>{s['whole_docs']:,}</td>"
        f"<td>{s['chars']:,}</td><td>{s['docs_read']:,}</td></tr>"
        for n, s in ev["sources"].items()
    )
    var_rows = "".join(
        f"<tr><td>{html.escape(v)}</td><td>{b['tokens']:,}</td><td>{len(b['tries'])}</td>"
        f"<td>{html.escape(', '.join(s['stage'] for s in b['stages']))}</td></tr>"
        for v, b in record["variants"].items()
    )
    timing = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{t['wall_s']}</td><td>{t['cpu_s']}</td></tr>"
        for k, t in record["timing"].items()
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>ablation: {html.escape(record["recipe"])}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}pre{{background:#f6f6f6;padding:1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}</style></head><body>
<h1>Ablation of {html.escape(record["recipe"])}</h1>
<h2>Result</h2><pre>{html.escape(table)}</pre>
<h2>Validation curves</h2><img alt="validation curves" src="data:image/png;base64,{img}">
<h2>Evaluation set</h2><p>Held out before any variant was built, removed from every variant's input:
{html.escape(ev["rule"]["draw"])}, share {ev["rule"]["share"]}, chunks of {ev["rule"]["chunk_chars"]} characters
(whole lines).</p><table><tr><th>source</th><th>held-out chunks</th><th>whole documents</th><th>characters</th>
<th>documents read</th></tr>{rows}</table>
<h2>Variants</h2><table><tr><th>variant</th><th>tokens</th><th>builds</th><th>steps</th></tr>{var_rows}</table>
<h2>Time</h2><table><tr><th>phase</th><th>wall s</th><th>CPU s</th></tr>{timing}</table>
<h2>How to read this</h2><p>Lower loss on held-out reference text means the variant's data taught a small proxy
model more about that kind of text at the same token budget. It is a proxy: tiny models, few steps, loss rather
than downstream task quality; see the README's Ablation section.</p></body></html>"""
    path.write_text(doc, encoding="utf-8")


def write_outputs(record: dict[str, Any], out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    record["summary"] = summarize(record)
    table = format_table(record)
    write_json_atomic(record, out / "ablation.json")
    png = out / "ablation.png"
    plot_curves(record, png)
    write_html(record, table, png, out / "ablation.html")
    log(table)
    log(f"ablation: {out / 'ablation.json'}, {out / 'ablation.html'}")
    return record
