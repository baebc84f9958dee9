"""Command line: ``python -m curate run RECIPE`` and one subcommand per stage run alone on files."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def cmd_run(a: argparse.Namespace) -> int:
    from curate.pipeline import Pipeline

    p = Pipeline.from_recipe(a.recipe, a.set)
    summary = p.run(out=a.out, workers=a.workers)
    out = a.out or f"runs/{p.recipe.name}"
    print(f"done in {summary['seconds']}s; outputs in {out}/ (summary.json, manifest.json, shards/)")
    for st in summary["stages"]:
        fin = st.get("finalize") or {}
        if isinstance(fin, dict) and fin.get("table"):
            print(fin["table"])
    return 0


def cmd_extract(a: argparse.Namespace) -> int:
    from curate.extract.web import extract_file

    _print(extract_file(a.input, a.output, **_kv(a.set)))
    return 0


def cmd_filter(a: argparse.Namespace) -> int:
    from filters import run_filters

    _print(run_filters(a.input, a.output, recipe_path=a.recipe, dropped_path=a.dropped))
    return 0


def cmd_dedup(a: argparse.Namespace) -> int:
    from curate.dedup.minhash import dedup_files

    _print(dedup_files(a.input, a.output, threshold=a.threshold, dropped=a.dropped, **_kv(a.set)))
    return 0


def cmd_mix(a: argparse.Namespace) -> int:
    from curate.mix.planner import mix_files

    weights = {k: float(v) for k, v in _kv(a.weight).items()}
    window = None if a.window_min_tokens <= 0 else a.window_min_tokens
    _print(mix_files(a.input, a.output, weights, target_tokens=a.target_tokens, seed=a.seed,
                     window_min_tokens=window))
    return 0


def cmd_train_tokenizer(a: argparse.Namespace) -> int:
    from tokenizer import train_tokenizer

    print(train_tokenizer(a.input, a.out, vocab_size=a.vocab_size))
    return 0


def cmd_tokenize(a: argparse.Namespace) -> int:
    from tokenizer import tokenize_files

    _print(tokenize_files(a.input, a.out, a.model))
    return 0


def cmd_trace(a: argparse.Namespace) -> int:
    from curate.trace import format_trace, trace

    r = trace(a.run_dir, a.shard, a.token)
    if a.json:
        _print(r)
    else:
        print(format_trace(r, max_chars=a.chars))
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from curate.report import write_report

    print(write_report(a.run_dir))
    return 0


def cmd_ablate(a: argparse.Namespace) -> int:
    from curate.ablate.run import AblateConfig, run_ablation

    cfg = AblateConfig(recipe=a.recipe, variants=[v.strip() for v in a.variants.split(",") if v.strip()],
                       seeds=a.seeds, steps=a.steps, config=a.config, eval_files=a.eval, tokenizer=a.tokenizer,
                       tokens=a.tokens, out=a.out, workers=a.workers, device=a.device, threads=a.threads or None,
                       eval_tokens=a.eval_tokens, holdout_share=a.holdout_share,
                       reference=a.reference.split(",") if a.reference else None, overrides=a.set,
                       schedule=a.schedule, jobs=a.jobs)
    run_ablation(cfg)
    return 0


def _kv(items: list[str] | None) -> dict[str, Any]:
    import yaml

    from curate.recipe import RecipeError

    out = {}
    for it in items or []:
        if "=" not in it:
            raise RecipeError(f"expected key=value, got {it!r}")
        k, v = it.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m curate", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("run", help="run a recipe end to end (resumes completed work)")
    p.add_argument("recipe")
    p.add_argument("--out", help="output directory (default runs/<recipe name>)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set seed=7 or --set stages.dedup.threshold=0.7")
    p.add_argument("--workers", type=int, help="CPUs for the embedded Ray (0 = in-process, no Ray)")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("extract", help="extract main text from WARC/JSONL/Parquet HTML into Parquet")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(fn=cmd_extract)

    p = sub.add_parser("filter", help="apply a recipe's filter stages to JSONL/Parquet documents")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--recipe")
    p.add_argument("--dropped", help="where to write dropped rows with reasons")
    p.set_defaults(fn=cmd_filter)

    p = sub.add_parser("dedup", help="exact + MinHash near-dedup of JSONL/Parquet documents")
    p.add_argument("--input", required=True, nargs="+")
    p.add_argument("--output", required=True)
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--dropped")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(fn=cmd_dedup)

    p = sub.add_parser("mix", help="plan and apply a mixture by source weights")
    p.add_argument("--input", required=True, nargs="+")
    p.add_argument("--output", required=True)
    p.add_argument("--weight", action="append", default=[], metavar="SOURCE=WEIGHT")
    p.add_argument("--target-tokens", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--window-min-tokens", type=int, default=50_000,
                   help="down-sample documents this long by a line window of their text (0: whole-document draws)")
    p.set_defaults(fn=cmd_mix)

    p = sub.add_parser("train-tokenizer", help="train a sentencepiece BPE tokenizer on documents")
    p.add_argument("--input", required=True, nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--vocab-size", type=int, default=8000)
    p.set_defaults(fn=cmd_train_tokenizer)

    p = sub.add_parser("tokenize", help="encode documents into Megatron-style token shards")
    p.add_argument("--input", required=True, nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--model", required=True, help="sentencepiece model path")
    p.set_defaults(fn=cmd_tokenize)

    p = sub.add_parser("trace", help="show the document a token came from")
    p.add_argument("run_dir")
    p.add_argument("--shard", required=True)
    p.add_argument("--token", required=True, type=int)
    p.add_argument("--chars", type=int, default=2000, help="how much of the text to print")
    p.add_argument("--json", action="store_true", help="print the whole record as JSON")
    p.set_defaults(fn=cmd_trace)

    p = sub.add_parser("ablate", help="proxy-model ablation: build raw/curated/... variants at one token budget, "
                                      "train the bundled GPT on each, compare held-out loss")
    p.add_argument("recipe")
    p.add_argument("--variants", default="raw,curated",
                   help="comma-separated: raw, curated, -STAGE (the recipe without it), or a recipe path")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per variant (0..N-1)")
    p.add_argument("--steps", type=int, default=1000, help="training steps per run")
    p.add_argument("--config", default="tiny", choices=["tiny", "small", "gpt2"], help="the trainer's model size")
    p.add_argument("--eval", action="append", default=[], metavar="PATH.jsonl",
                   help="extra evaluation text (JSONL with 'text'), scored as its own source")
    p.add_argument("--tokenizer", help="sentencepiece model for every variant (default: trained on curated)")
    p.add_argument("--tokens", type=int, help="token budget per variant (default: what curated produces)")
    p.add_argument("--out", help="output directory (default runs/<recipe name>-ablate)")
    p.add_argument("--workers", type=int, help="CPUs for the embedded Ray while building (0 = in-process)")
    p.add_argument("--device", default="auto", help="trainer device: auto (CUDA if available), cpu, cuda")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per training run (0 = torch's)")
    p.add_argument("--jobs", type=int, help="training runs at once (default: 1 on a GPU, else one per core)")
    p.add_argument("--schedule", default="cosine", choices=["constant", "cosine"], help="learning-rate schedule")
    p.add_argument("--eval-tokens", type=int, default=16384, help="tokens scored per evaluation source")
    p.add_argument("--holdout-share", type=float, default=0.02,
                   help="share of the reference sources' text held out for evaluation")
    p.add_argument("--reference", help="comma-separated source names held out (default: quality positives)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe value")
    p.set_defaults(fn=cmd_ablate)

    p = sub.add_parser("report", help="write runs/<r>/report.html")
    p.add_argument("run_dir")
    p.set_defaults(fn=cmd_report)
    return ap


def main(argv: list[str] | None = None) -> int:
    from curate.recipe import RecipeError

    a = build_parser().parse_args(argv)
    try:
        return a.fn(a)
    except (RecipeError, FileNotFoundError, ValueError) as e:
        if os.environ.get("CURATE_DEBUG"):
            raise
        print(f"error: {e} (set CURATE_DEBUG=1 for a traceback)", file=sys.stderr)
        return 2
