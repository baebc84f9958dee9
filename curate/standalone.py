"""The standalone commands (``extract``, ``filter``, ``dedup``, ``mix``, ``train-tokenizer``, ``tokenize``) as
one-source recipes run by the same runner and executor as ``curate run``.

One function per command (``extract_file``, ``run_filters``, ``dedup_files``, ``mix_files``, ``train_tokenizer``,
``tokenize_files``), called by ``curate.cli`` and usable from Python; stage packages know nothing of them.

Inputs are globs or paths, several per command; their format comes from the extension (see
``curate.docfiles``). The run's state lives in a work directory (``<output>.curate/`` for a file output,
the output directory itself for ``tokenize``/``train-tokenizer``), so a re-run resumes like ``curate run``;
it starts afresh when an input file's size or modification time changed. The kept documents of the last
step go to ``output`` and every dropped or errored row, with ``reason`` and ``stage``, to one dropped file
(``x.parquet`` -> ``x.dropped.parquet``, ``x.jsonl.gz`` -> ``x.dropped.jsonl.gz``). Logs go to stderr.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from curate.config import RecipeError
from curate.docfiles import check_writable, dropped_path, export_run, input_format, output_extension
from curate.io import expand_paths, is_url, pinned_glob, read_json, write_json_atomic
from curate.runlock import OUTPUT_NAMES, claim_out
from curate.sources.safe import inside_root, root_of

FINGERPRINT = "_inputs.json"


def log_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _own(path: str, outputs: list[Path]) -> bool:
    """Whether ``path`` is one of this command's outputs or inside its work directory."""
    p = Path(path).resolve()
    return any(p == o or o in p.parents for o in outputs)


def _sources(
    inputs: list[str], warc_options: dict[str, Any] | None, outputs: list[Path]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One source per input format, with the inputs' globs expanded (a file's format is its extension's),
    and the file each entry names. A glob that also matches the command's own outputs (``*.jsonl`` beside
    ``out.jsonl``) does not read them, nor the directories it matches; a directory named as an input is an
    error (its files or a glob are inputs). A match that leads out of its pattern's root (a link) is named
    by a pattern keeping that root, so the read refuses it (``input:outside_root``) as ``curate run`` does."""
    by_format: dict[str, list[str]] = {}
    seen: set[str] = set()
    real: dict[str, str] = {}
    named = {os.path.abspath(i) for i in inputs if not is_url(i)}
    for path in expand_paths(inputs, "--input"):
        if not is_url(path) and _own(path, outputs):
            log_stderr(f"--input: skipping {path}, an output of this command")
            continue
        if not is_url(path) and os.path.isdir(path):
            if os.path.abspath(path) in named:
                raise RecipeError(
                    f"--input {path} is a directory; give its files or a glob ({os.path.join(path, '*.jsonl')})"
                )
            log_stderr(f"--input: skipping {path}, a directory")  # matched by a glob such as *
            continue
        root = root_of(path)
        path = path if is_url(path) else os.path.abspath(path)
        if path not in seen:  # a file matched by two patterns is read once
            seen.add(path)
            entry = path if is_url(path) or inside_root(path, root) else pinned_glob(path, root)
            real[entry] = path
            by_format.setdefault(input_format(path), []).append(entry)
    return [
        {
            "name": "web" if fmt == "warc" else fmt.replace("documents-", "input-"),
            "kind": "web",
            "format": fmt,
            "paths": paths,
            "options": (warc_options or {}) if fmt == "warc" else {},
        }
        for fmt, paths in by_format.items()
    ], real


def _fingerprint(sources: list[dict[str, Any]], real: dict[str, str]) -> list[list[Any]]:
    out = []
    for s in sources:
        for p in map(real.get, s["paths"]):
            st = os.stat(p) if not is_url(p) else None
            out.append([p, st.st_size if st else None, st.st_mtime_ns if st else None])
    return out


def one_source_pipeline(
    name: str,
    inputs: list[str],
    stages: list[Any],
    run_dir: str | Path,
    seed: int = 0,
    workers: int = 0,
    warc_options: dict[str, Any] | None = None,
    outputs: list[Path] | None = None,
) -> Any:
    """The ``Pipeline`` of ``stages`` over ``inputs`` into ``run_dir``, whose outputs are cleared when an input
    changed since the last run (else it resumes). ``outputs`` (and ``run_dir``) are never read as inputs."""
    from curate.pipeline import Pipeline

    if not inputs:
        raise RecipeError("--input: at least one input is required")
    run = Path(run_dir)
    check_writable(run, is_dir=True)
    try:
        sources, real = _sources(inputs, warc_options, [Path(o).resolve() for o in [run, *(outputs or [])]])
        if not sources:
            raise RecipeError("--input: every input is an output of this command")
        fingerprint = _fingerprint(sources, real)
    except FileNotFoundError as e:
        raise RecipeError(str(e)) from None
    claim_out(run, names=OUTPUT_NAMES + (FINGERPRINT,))  # before the first file curate writes there
    fp_file = run / FINGERPRINT
    try:
        previous = read_json(fp_file) if fp_file.exists() else fingerprint
    except (OSError, ValueError):
        previous = None  # damaged: start afresh
    if previous != fingerprint:
        log_stderr(f"an input changed since the last run: starting {run} afresh")
        for sub in ("stages", "dropped", "errors"):
            shutil.rmtree(run / sub, ignore_errors=True)
    write_json_atomic(fingerprint, fp_file)
    raw = {"name": name, "seed": seed, "workers": workers, "sources": sources, "stages": stages}
    return Pipeline.from_dict(raw, ".")


def run_recipe(
    name: str,
    inputs: list[str],
    stages: list[Any],
    run_dir: str | Path,
    seed: int = 0,
    workers: int = 0,
    warc_options: dict[str, Any] | None = None,
    outputs: list[Path] | None = None,
) -> dict[str, Any]:
    """Run ``stages`` over ``inputs`` into ``run_dir`` (resuming unless an input changed); the summary."""
    pipe = one_source_pipeline(name, inputs, stages, run_dir, seed, workers, warc_options, outputs)
    return pipe.run(out=Path(run_dir), workers=workers, log=log_stderr)


def result(summary: dict[str, Any]) -> dict[str, Any]:
    """The command's JSON result: input, kept, dropped and errors by reason, and each step's counts."""
    steps = summary["stages"]
    dropped: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for s in steps:
        dropped.update(s["dropped"])
        errors.update(s["errors"])
    out = {
        "input": steps[0]["in"],
        "kept": steps[-1]["kept"],
        "dropped": dict(sorted(dropped.items())),
        "errors": dict(sorted(errors.items())),
        "reconciles": summary["reconciles"],
        "stages": [
            {k: s[k] for k in ("stage", "in", "kept", "dropped", "errors", "counters", "fit", "finalize") if k in s}
            for s in steps
        ],
    }
    out["reconciles"] = out["reconciles"] and out["input"] == out["kept"] + sum(dropped.values()) + sum(errors.values())
    return out


def run_to_file(
    name: str,
    inputs: list[str],
    stages: list[Any],
    output: str | Path,
    dropped: str | Path | None = None,
    seed: int = 0,
    workers: int = 0,
    warc_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``stages`` over ``inputs``; kept documents to ``output``, dropped/errored rows to ``dropped``
    (default ``dropped_path(output)``). Both formats come from their extensions."""
    output_extension(output)
    drop = Path(dropped) if dropped else dropped_path(output)
    output_extension(drop)
    for p in (output, drop):
        check_writable(p)
    run = Path(f"{output}.curate")
    summary = run_recipe(name, inputs, stages, run, seed, workers, warc_options, [Path(output), drop])
    written = export_run(run, output, drop)
    res = result(summary)
    removed = sum(res["dropped"].values()) + sum(res["errors"].values())
    if written != {"kept": res["kept"], "dropped": removed}:  # the export lost or added rows: never silent
        raise RuntimeError(f"{name}: wrote {written} rows but the run has {res['kept']} kept and {removed} removed")
    return {**res, "output": str(output), "dropped_path": str(drop), "work_dir": str(run)}


# ------------------------------------------------------------------ the commands

FILTER_STAGES = ("langid", "heuristics", "clean_lines", "quality")
DEFAULT_FILTERS: list[tuple[str, dict, list[str] | None]] = [
    ("langid", {}, None),
    ("clean_lines", {}, None),
    ("heuristics", {}, None),
]


def extract_file(
    input_path: str | list[str], output_path: str, dropped: str | None = None, workers: int = 0, **config: Any
) -> dict:
    """``curate extract``: read WARC (or JSONL/Parquet rows of HTML), extract main text, write the kept
    documents to ``output_path`` and dropped/errored rows to ``dropped`` (default ``<output>.dropped.<ext>``).
    ``config`` holds ExtractStage keys and WARC reader options. Returns the counts."""
    from dataclasses import fields

    from curate.extract.web import ExtractStage

    stage_keys = {f.name for f in fields(ExtractStage.Config)}
    inputs = [input_path] if isinstance(input_path, str) else list(input_path)
    res = run_to_file(
        "extract",
        inputs,
        [{"extract": {k: v for k, v in config.items() if k in stage_keys}}],
        output_path,
        dropped,
        workers=workers,
        warc_options={k: v for k, v in config.items() if k not in stage_keys},
    )
    read = res["stages"][0]
    res.update(read=read["in"], read_dropped=read["dropped"])
    return res


def filter_specs(recipe_path: str | Path | None) -> tuple[list[tuple[str, dict, list[str] | None]], int]:
    """(stage, settings, only) of the recipe's filter stages (``FILTER_STAGES``, in recipe order; default
    ``DEFAULT_FILTERS``) and the recipe's seed. The recipe's sources are not resolved: only its stages run."""
    if recipe_path is None:
        return DEFAULT_FILTERS, 0
    from curate.recipe import load_recipe

    recipe = load_recipe(recipe_path, source_paths=False)
    return [(s.stage, s.config, s.only) for s in recipe.stages if s.stage in FILTER_STAGES], recipe.seed


def run_filters(
    input_path: str | Path | list,
    output_path: str | Path,
    recipe_path: str | Path | None = None,
    dropped_path: str | Path | None = None,
    workers: int = 0,
) -> dict[str, Any]:
    """``curate filter``: the recipe's filter stages (``filter_specs``; honouring ``only:``) over JSONL/Parquet
    documents; kept documents to ``output_path``, dropped/errored rows with ``reason`` and ``stage`` to
    ``dropped_path`` (default ``<output>.dropped.<ext>``); the counts."""
    inputs = [str(p) for p in input_path] if isinstance(input_path, (list, tuple)) else [str(input_path)]
    specs, seed = filter_specs(recipe_path)
    stages = [{name: cfg, **({"only": only} if only else {})} for name, cfg, only in specs]
    return run_to_file("filter", inputs, stages, output_path, dropped_path, seed=seed, workers=workers)


def dedup_files(
    inputs: list[str], output: str, threshold: float = 0.8, dropped: str | None = None, workers: int = 0, **config: Any
) -> dict:
    """``curate dedup``: exact then near dedup (``dedup_exact``, ``dedup``) of JSONL/Parquet documents; kept
    rows to ``output``, dropped and unreadable rows to ``dropped`` (default ``<output>.dropped.<ext>``).
    ``config``: MinHashDedupStage keys (``priority`` also goes to the exact pass)."""
    exact = {"priority": config["priority"]} if "priority" in config else {}
    stages = [{"dedup_exact": exact}, {"dedup": dict(config, threshold=threshold)}]
    res = run_to_file("dedup", list(inputs), stages, output, dropped, workers=workers)
    res["dropped_exact"] = res["dropped"].get("dedup:exact", 0)
    res["dropped_near"] = res["dropped"].get("dedup:near", 0)
    return res


def mix_files(
    inputs: list[str],
    output: str,
    weights: dict[str, float],
    target_tokens: int | None = None,
    seed: int = 0,
    max_epochs: float = 10.0,
    window_min_tokens: int | None = 50_000,
    dropped: str | None = None,
    workers: int = 0,
) -> dict[str, Any]:
    """``curate mix``: JSONL/Parquet documents in, kept documents (meta ``repeat``) to ``output``, dropped
    ones to ``dropped`` (default ``<output>.dropped.<ext>``); the result with the plan."""
    cfg = {
        "weights": weights,
        "target_tokens": target_tokens,
        "max_epochs": max_epochs,
        "window_min_tokens": window_min_tokens,
    }
    res = run_to_file("mix", list(inputs), [{"mix": cfg}], output, dropped, seed=seed, workers=workers)
    return {**res, **res["stages"][-1].get("finalize", {}).get("mix", {})}


def train_tokenizer(
    inputs: list[str],
    out_dir: str,
    vocab_size: int = 8000,
    sample_chars: int = 20_000_000,
    eod_token: str = "<|endoftext|>",
    special_tokens: list[str] | None = None,
    byte_fallback: bool = True,
    seed: int = 0,
    workers: int = 0,
) -> str:
    """``curate train-tokenizer``: BPE trained on JSONL/Parquet documents by the ``tokenize`` stage's ``fit``,
    its passes over the read parts run by the executor (Ray, or in-process for a small input as in
    ``curate run``); the path of ``out_dir/tokenizer/tokenizer.model``. ``out_dir`` is the run directory."""
    from curate.executor import make_executor
    from curate.smalljob import workers_for
    from curate.stage import FitContext
    from curate.tokenizer.stage import TokenizeStage

    stage = TokenizeStage.from_dict(
        {
            "vocab_size": vocab_size,
            "sample_chars": sample_chars,
            "eod_token": eod_token,
            "special_tokens": special_tokens or [],
            "byte_fallback": byte_fallback,
        },
        "train-tokenizer",
    )
    out = Path(out_dir)
    pipe = one_source_pipeline("train-tokenizer", list(inputs), [], out, seed=seed, workers=workers)
    pipe.run(out=out, workers=workers, log=log_stderr)
    parts = sorted((out / "stages" / "00_read").glob("part-*.parquet"))
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    executor = make_executor(workers_for(pipe.recipe, workers)[0], log_stderr)
    try:
        return stage.fit(FitContext(parts, work, seed, executor.map, run_dir=out, log=log_stderr))["model"]
    finally:
        executor.shutdown()


def tokenize_files(
    inputs: list[str],
    out_dir: str,
    model: str,
    shard_tokens: int = 2**24,
    val_fraction: float = 0.01,
    eod_token: str = "<|endoftext|>",
    seed: int = 0,
    workers: int = 0,
) -> dict[str, Any]:
    """``curate tokenize``: JSONL/Parquet documents encoded with ``model`` into ``out_dir/shards`` and
    ``out_dir/manifest.json``."""
    cfg = {
        "model": str(Path(model).resolve()),
        "shard_tokens": shard_tokens,
        "val_fraction": val_fraction,
        "eod_token": eod_token,
    }
    summary = run_recipe("tokenize", list(inputs), [{"tokenize": cfg}], out_dir, seed=seed, workers=workers)
    res = result(summary)
    fin = res["stages"][-1].get("finalize", {}).get("tokenize", {})
    return {**res, **fin, "manifest": str(Path(out_dir) / "manifest.json")}
