"""Command line: ``python -m curate run RECIPE`` and one subcommand per stage run alone on files."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from typing import Any

from curate.sample_options import add_build_args
from curate.signals import Stop, Terminated, sigterm_as_interrupt

DESCRIPTION = """curate: raw crawls, dumps, books and code to trainer-ready token shards.
'curate run RECIPE' runs a recipe end to end; the other commands run one stage alone on files.
--output and --out are the same option in every command: where the command writes its result (a file for
extract, filter, dedup and mix, whose extension picks the format; a folder for run, train-tokenizer,
tokenize and ablate). Re-running a command resumes its completed work."""

OUTPUT_NAMES = ("--output", "--out")  # one option, both spellings, in every command


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def _log(msg: str) -> None:
    from curate.termsafe import terminal_safe

    print(terminal_safe(msg), file=sys.stderr, flush=True)


def cmd_run(a: argparse.Namespace) -> int:
    from curate.docfiles import check_writable
    from curate.pipeline import Pipeline
    from curate.runlock import RunLocked
    from curate.termsafe import terminal_safe

    p = Pipeline.from_recipe(a.recipe, a.set)
    if a.dry_run:
        print(terminal_safe(p.describe(a.out)))
        return 0
    out = a.out or f"runs/{p.recipe.name}"
    check_writable(out, is_dir=True)
    if a.dashboard:
        from curate.executor import DASHBOARD_ENV

        os.environ[DASHBOARD_ENV] = "1"
    try:
        summary = p.run(out=out, workers=a.workers, log=_log, adopt_out=a.adopt_out)
    except RunLocked as e:
        print(terminal_safe(f"error: {e}"), file=sys.stderr)
        return 3
    print(terminal_safe(f"done in {summary['seconds']}s; outputs in {out}/ (summary.json, manifest.json, shards/)"))
    for st in summary["stages"]:
        fin = st.get("finalize") or {}
        if isinstance(fin, dict) and fin.get("table"):
            print(fin["table"])
    return 0


def _sample_build(a: argparse.Namespace) -> int:
    from curate.sample.__main__ import run_build

    return run_build(a)


def _recipe_path(name: str) -> str:
    """A recipe file, or the name of a recipe shipped with curate."""
    from curate.recipe import find_recipe

    return str(find_recipe(name))


def cmd_extract(a: argparse.Namespace) -> int:
    from curate.standalone import extract_file

    _print(extract_file(a.input, a.output, dropped=a.dropped, workers=a.workers, **_kv(a.set)))
    return 0


def cmd_filter(a: argparse.Namespace) -> int:
    from curate.standalone import run_filters

    recipe = _recipe_path(a.recipe) if a.recipe else None
    _print(run_filters(a.input, a.output, recipe_path=recipe, dropped_path=a.dropped, workers=a.workers))
    return 0


def cmd_eval_clean(a: argparse.Namespace) -> int:
    from curate.eval_clean import cross_validate, cv_table, eval_clean, table
    from curate.termsafe import terminal_safe

    if a.cv:
        if not a.input:
            raise ValueError("eval-clean --cv needs --input (the documents, with the fold field)")
        cv = cross_validate(a.labels, a.input, recipe_path=a.recipe, field=a.cv)
        print(cv_table(cv))
        if a.json:
            _print(cv)
        return 0
    rows: list = []
    res = eval_clean(a.labels, input_path=a.input, output_path=a.filtered, recipe_path=a.recipe, per_doc=rows)
    print(table(res["scores"]))
    if a.per_doc:
        for did, label, kept, k_ok, k, j_ok, j in rows:
            print(
                terminal_safe(
                    f"{did:40} {label:4} {'kept' if kept else 'DROPPED':7} keep {k_ok}/{k}  junk removed {j_ok}/{j}"
                )
            )
    if a.json:
        _print(res)
    return 0


def cmd_dedup(a: argparse.Namespace) -> int:
    from curate.standalone import dedup_files

    _print(dedup_files(a.input, a.output, threshold=a.threshold, dropped=a.dropped, workers=a.workers, **_kv(a.set)))
    return 0


def cmd_mix(a: argparse.Namespace) -> int:
    from curate.standalone import mix_files

    weights = _weights(a.weight)
    window = None if a.window_min_tokens <= 0 else a.window_min_tokens
    _print(
        mix_files(
            a.input,
            a.output,
            weights,
            target_tokens=a.target_tokens,
            seed=a.seed,
            window_min_tokens=window,
            dropped=a.dropped,
            workers=a.workers,
        )
    )
    return 0


def cmd_train_tokenizer(a: argparse.Namespace) -> int:
    from curate.standalone import train_tokenizer

    _print({"model": train_tokenizer(a.input, a.out, vocab_size=a.vocab_size, workers=a.workers)})
    return 0


def cmd_tokenize(a: argparse.Namespace) -> int:
    from curate.standalone import tokenize_files

    _print(tokenize_files(a.input, a.out, a.model, workers=a.workers))
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

    cfg = AblateConfig(
        recipe=a.recipe,
        variants=[v.strip() for v in a.variants.split(",") if v.strip()],
        seeds=a.seeds,
        steps=a.steps,
        config=a.config,
        eval_files=a.eval,
        tokenizer=a.tokenizer,
        tokens=a.tokens,
        out=a.out,
        workers=a.workers,
        device=a.device,
        threads=a.threads or None,
        eval_tokens=a.eval_tokens,
        holdout_share=a.holdout_share,
        reference=a.reference.split(",") if a.reference else None,
        overrides=a.set,
        schedule=a.schedule,
        jobs=a.jobs,
        adopt_out=a.adopt_out,
    )
    run_ablation(cfg)
    return 0


def _kv(items: list[str] | None, option: str = "--set") -> dict[str, Any]:
    from curate.recipe import RecipeError, parse_yaml

    out = {}
    for it in items or []:
        if "=" not in it:
            raise RecipeError(f"{option}: expected key=value, got {it!r}")
        k, v = it.split("=", 1)
        out[k] = parse_yaml(v, f"{option} {k}")
    return out


def _weights(items: list[str]) -> dict[str, float]:
    """``--weight SOURCE=WEIGHT`` values as numbers (the recipe's checks, naming the option, follow)."""
    from curate.recipe import RecipeError

    out = {}
    for k, v in _kv(items, "--weight").items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise RecipeError(f"--weight {k}: expected a number, got {v!r}")
        out[k] = float(v)
    return out


def _io_args(p: argparse.ArgumentParser, io_help: str, out_help: str) -> None:
    p.add_argument("--input", required=True, nargs="+", help=io_help)
    p.add_argument(
        *OUTPUT_NAMES,
        dest="output",
        required=True,
        help=out_help + " (work files go to <output>.curate/; re-runs resume)",
    )
    p.add_argument("--dropped", help="dropped and errored rows with reasons (default <output>.dropped.<ext>)")
    p.add_argument("--workers", type=int, default=0, help="CPUs for Ray (0 = in-process)")


def build_parser() -> argparse.ArgumentParser:
    from curate import __version__

    ap = argparse.ArgumentParser(
        prog="curate", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--version", action="version", version=f"curate {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)
    io_help = (
        "inputs: paths or globs of .jsonl/.parquet documents (JSONL also .gz/.zst/.bz2)"
        + " or .warc/.wet/.arc(.gz) pages"
    )
    out_help = "output file; its extension picks the format: .jsonl, .jsonl.gz, .jsonl.zst, .jsonl.bz2, .parquet"

    p = sub.add_parser("run", help="run a recipe end to end (resumes completed work)")
    p.add_argument("recipe", help="recipe file, or the name of a shipped recipe (gpt3mix, quickstart)")
    p.add_argument(*OUTPUT_NAMES, dest="out", help="output folder (default runs/<recipe name>)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe value, e.g. --set seed=7 or --set stages.dedup.threshold=0.7",
    )
    p.add_argument("--workers", type=int, help="CPUs for the embedded Ray (0 = in-process, no Ray)")
    p.add_argument(
        "--dashboard",
        action="store_true",
        help="start the embedded Ray with its dashboard and monitors (off: a lean Ray of GCS, raylet and workers)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (units, segments, tasks, projected disk and memory per task); run nothing",
    )
    p.add_argument(
        "--adopt-out",
        action="store_true",
        help="let curate use an --out that is not empty and that curate did not make (it then writes "
        "there, and removes only what it wrote)",
    )
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser(
        "sample",
        help="build the sample corpus the shipped recipes read (from Debian packages "
        "and the local Python, or --from a copy) into ~/.local/share/curate/sample",
    )
    add_build_args(p)
    p.set_defaults(fn=_sample_build)

    p = sub.add_parser("extract", help="extract main text from WARC/JSONL/Parquet HTML")
    _io_args(p, io_help, out_help)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set an option of the extract stage, e.g. --set min_chars=200 (repeatable)",
    )
    p.set_defaults(fn=cmd_extract)

    p = sub.add_parser("filter", help="apply a recipe's filter stages to JSONL/Parquet documents")
    _io_args(p, io_help, out_help)
    p.add_argument(
        "--recipe", help="take the filter stages and seed from this recipe (default: langid, clean_lines, heuristics)"
    )
    p.set_defaults(fn=cmd_filter)

    p = sub.add_parser(
        "eval-clean",
        help="score a cleaner against line labels (good docs kept, bad dropped, "
        "article lines kept, junk lines removed, per language)",
    )
    p.add_argument("--labels", required=True, help="labels.jsonl: id, doc_label, lines[{text, label}]")
    p.add_argument("--input", help="documents to filter with the default chain (or --recipe's)")
    p.add_argument(
        "--filtered",
        help="score these filtered documents (.parquet/.jsonl, a filter command's "
        "--output) instead of running the filters",
    )
    p.add_argument(
        "--recipe", help="filter with this recipe's filter stages and seed (default: langid, clean_lines, heuristics)"
    )
    p.add_argument("--per-doc", action="store_true", help="also print one line per document")
    p.add_argument(
        "--cv",
        nargs="?",
        const="origin_repo",
        metavar="FIELD",
        help="leave-one-source-out: filter and score each group of --input documents sharing FIELD "
        "(default origin_repo) on its own; print each fold, the worst fold and the mean",
    )
    p.add_argument("--json", action="store_true", help="also print counts and the filter report as JSON")
    p.set_defaults(fn=cmd_eval_clean)

    p = sub.add_parser("dedup", help="exact + MinHash near-dedup of JSONL/Parquet documents")
    _io_args(p, io_help, out_help)
    p.add_argument(
        "--threshold",
        type=float,
        default=0.8,
        help="near-duplicate Jaccard similarity (0..1] above which a document is removed (default 0.8)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set an option of the dedup stage, e.g. --set num_perm=128 (repeatable)",
    )
    p.set_defaults(fn=cmd_dedup)

    p = sub.add_parser("mix", help="plan and apply a mixture by source weights")
    _io_args(p, io_help, out_help)
    p.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="SOURCE=WEIGHT",
        help="share of the mixture for a source (its 'source' field), e.g. --weight web=0.6 (repeatable; "
        "weights are normalised)",
    )
    p.add_argument(
        "--target-tokens",
        type=int,
        help="tokens in the mixture (default: the most the weights allow without repeating a source)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (same seed, same mixture; default 0)")
    p.add_argument(
        "--window-min-tokens",
        type=int,
        default=50_000,
        help="down-sample documents this long by a line window of their text (0: whole-document draws)",
    )
    p.set_defaults(fn=cmd_mix)

    p = sub.add_parser("train-tokenizer", help="train a sentencepiece BPE tokenizer on documents")
    p.add_argument("--input", required=True, nargs="+", help=io_help)
    p.add_argument(
        *OUTPUT_NAMES, dest="out", required=True, help="output folder (tokenizer/tokenizer.model; re-runs resume)"
    )
    p.add_argument("--vocab-size", type=int, default=8000, help="pieces in the BPE vocabulary (default 8000)")
    p.add_argument("--workers", type=int, default=0, help="CPUs for Ray (0 = in-process)")
    p.set_defaults(fn=cmd_train_tokenizer)

    p = sub.add_parser("tokenize", help="encode documents into Megatron-style token shards")
    p.add_argument("--input", required=True, nargs="+", help=io_help)
    p.add_argument(
        *OUTPUT_NAMES, dest="out", required=True, help="output folder (shards/, manifest.json; re-runs resume)"
    )
    p.add_argument("--model", required=True, help="sentencepiece model path")
    p.add_argument("--workers", type=int, default=0, help="CPUs for Ray (0 = in-process)")
    p.set_defaults(fn=cmd_tokenize)

    p = sub.add_parser("trace", help="show the document a token came from")
    p.add_argument("run_dir", help="the run's output folder (holds manifest.json)")
    p.add_argument(
        "--shard",
        required=True,
        help="a shard: its index in the train split (0), or a name such as train-00000 or val-00000",
    )
    p.add_argument("--token", required=True, type=int, help="position of the token in that shard (0-based)")
    p.add_argument("--chars", type=int, default=2000, help="how much of the text to print")
    p.add_argument("--json", action="store_true", help="print the whole record as JSON")
    p.set_defaults(fn=cmd_trace)

    p = sub.add_parser(
        "ablate",
        help="proxy-model ablation: build raw/curated/... variants at one token budget, "
        "train the bundled GPT on each, compare held-out loss",
    )
    p.add_argument("recipe", help="recipe file, or the name of a shipped recipe")
    p.add_argument(
        "--variants",
        default="raw,curated",
        help="comma-separated: raw, curated, -STAGE (the recipe without it), or a recipe path",
    )
    p.add_argument("--seeds", type=int, default=3, help="training seeds per variant (0..N-1)")
    p.add_argument("--steps", type=int, default=1000, help="training steps per run")
    p.add_argument("--config", default="tiny", choices=["tiny", "small", "gpt2"], help="the trainer's model size")
    p.add_argument(
        "--eval",
        action="append",
        default=[],
        metavar="PATH.jsonl",
        help="extra evaluation text (JSONL with 'text'), scored as its own source",
    )
    p.add_argument("--tokenizer", help="sentencepiece model for every variant (default: trained on curated)")
    p.add_argument("--tokens", type=int, help="token budget per variant (default: what curated produces)")
    p.add_argument(*OUTPUT_NAMES, dest="out", help="output folder (default runs/<recipe name>-ablate)")
    p.add_argument("--workers", type=int, help="CPUs for the embedded Ray while building (0 = in-process)")
    p.add_argument("--device", default="auto", help="trainer device: auto (CUDA if available), cpu, cuda")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per training run (0 = torch's)")
    p.add_argument("--jobs", type=int, help="training runs at once (default: 1 on a GPU, else one per core)")
    p.add_argument("--schedule", default="cosine", choices=["constant", "cosine"], help="learning-rate schedule")
    p.add_argument("--eval-tokens", type=int, default=16384, help="tokens scored per evaluation source")
    p.add_argument(
        "--holdout-share", type=float, default=0.02, help="share of the reference sources' text held out for evaluation"
    )
    p.add_argument("--reference", help="comma-separated source names held out (default: quality positives)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe value")
    p.add_argument(
        "--adopt-out",
        action="store_true",
        help="let curate use an --out that is not empty and that curate did not make",
    )
    p.set_defaults(fn=cmd_ablate)

    p = sub.add_parser("report", help="write runs/<r>/report.html")
    p.add_argument("run_dir", help="the run's output folder (holds summary.json)")
    p.set_defaults(fn=cmd_report)
    return ap


_OS_FAILURES = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file size limit exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def _root_cause(e: BaseException) -> BaseException:
    """The first OSError behind ``e`` (through ``raise from``, implicit context and Ray's task errors)."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in _OS_FAILURES:
            return cur
        cur = getattr(cur, "cause", None) or cur.__cause__ or cur.__context__
    return e


def describe_failure(e: BaseException, resumes: bool = True) -> str:
    """One line saying what happened and what to do next (``resumes``: a re-run continues the work)."""
    cause = _root_cause(e)
    if isinstance(cause, OSError) and cause.errno in _OS_FAILURES:
        where = f" writing {cause.filename}" if cause.filename else ""
        fix = "free some space" if cause.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else "use a writable --out"
        msg = f"error: {_OS_FAILURES[cause.errno]}{where}; {fix} and run the same command again" + (
            ": completed work is kept and the run resumes" if resumes else ""
        )
    else:
        msg = f"error: {e}" if isinstance(e, (ValueError, FileNotFoundError)) else f"error: {type(e).__name__}: {e}"
    from curate.termsafe import terminal_safe

    return terminal_safe(" ".join(msg.split())[:1000] + " (set CURATE_DEBUG=1 for a traceback)", lines=False)


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand. Failures end in one line on stderr (a traceback only with CURATE_DEBUG=1): exit
    2 for a bad recipe or input, 1 for a failure while running (disk full, read-only --out...), 130 for
    Ctrl-C, 143 for SIGTERM; after 1, 130 or 143, running the same command again resumes from the completed work."""
    a = build_parser().parse_args(argv)
    with sigterm_as_interrupt() as stop:
        return _main(a, bool(os.environ.get("CURATE_DEBUG")), stop)


def _main(a: argparse.Namespace, debug: bool, stop: Stop) -> int:
    from curate.recipe import RecipeError

    try:
        if getattr(a, "workers", None) is not None and a.workers < 0:
            raise RecipeError(f"--workers: {a.workers} is out of range (must be >= 0; 0 runs in-process)")
        return a.fn(a)
    except KeyboardInterrupt as e:
        if debug:
            raise
        terminated = isinstance(e, Terminated) or stop.terminated
        print(
            f"{'terminated (SIGTERM)' if terminated else 'interrupted (Ctrl-C)'}; completed work is kept: run the "
            "same command again to resume",
            file=sys.stderr,
        )
        return 143 if terminated else 130
    except Exception as e:
        if debug:
            raise
        print(describe_failure(e), file=sys.stderr)
        bad_input = isinstance(e, (RecipeError, FileNotFoundError, ValueError)) and _root_cause(e) is e
        return 2 if bad_input else 1
