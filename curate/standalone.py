"""The standalone commands (``extract``, ``filter``, ``dedup``, ``mix``, ``train-tokenizer``, ``tokenize``) as
one-source recipes run by the same runner as ``curate run``.

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

from curate.docfiles import check_writable, dropped_path, export_run, input_format, output_extension
from curate.io import expand_paths, is_url, pinned_glob, read_json, write_json_atomic
from curate.config import RecipeError
from curate.runlock import OUTPUT_NAMES, claim_out
from curate.sources.safe import inside_root, root_of

FINGERPRINT = "_inputs.json"


def log_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _own(path: str, outputs: list[Path]) -> bool:
    """Whether ``path`` is one of this command's outputs or inside its work directory."""
    p = Path(path).resolve()
    return any(p == o or o in p.parents for o in outputs)


def _sources(inputs: list[str], warc_options: dict[str, Any] | None, outputs: list[Path]
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
                raise RecipeError(f"--input {path} is a directory; give its files or a glob "
                                  f"({os.path.join(path, '*.jsonl')})")
            log_stderr(f"--input: skipping {path}, a directory")  # matched by a glob such as *
            continue
        root = root_of(path)
        path = path if is_url(path) else os.path.abspath(path)
        if path not in seen:  # a file matched by two patterns is read once
            seen.add(path)
            entry = path if is_url(path) or inside_root(path, root) else pinned_glob(path, root)
            real[entry] = path
            by_format.setdefault(input_format(path), []).append(entry)
    return [{"name": "web" if fmt == "warc" else fmt.replace("documents-", "input-"), "kind": "web",
             "format": fmt, "paths": paths, "options": (warc_options or {}) if fmt == "warc" else {}}
            for fmt, paths in by_format.items()], real


def _fingerprint(sources: list[dict[str, Any]], real: dict[str, str]) -> list[list[Any]]:
    out = []
    for s in sources:
        for p in map(real.get, s["paths"]):
            st = os.stat(p) if not is_url(p) else None
            out.append([p, st.st_size if st else None, st.st_mtime_ns if st else None])
    return out


def run_recipe(name: str, inputs: list[str], stages: list[Any], run_dir: str | Path, seed: int = 0,
               workers: int = 0, warc_options: dict[str, Any] | None = None,
               outputs: list[Path] | None = None) -> dict[str, Any]:
    """Run ``stages`` over ``inputs`` into ``run_dir`` (resuming unless an input changed); the summary.
    ``outputs`` (and ``run_dir``) are never read as inputs."""
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
    return Pipeline.from_dict(raw, ".").run(out=run, workers=workers, log=log_stderr)


def result(summary: dict[str, Any]) -> dict[str, Any]:
    """The command's JSON result: input, kept, dropped and errors by reason, and each step's counts."""
    steps = summary["stages"]
    dropped: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for s in steps:
        dropped.update(s["dropped"])
        errors.update(s["errors"])
    out = {"input": steps[0]["in"], "kept": steps[-1]["kept"], "dropped": dict(sorted(dropped.items())),
           "errors": dict(sorted(errors.items())), "reconciles": summary["reconciles"],
           "stages": [{k: s[k] for k in ("stage", "in", "kept", "dropped", "errors", "counters", "fit", "finalize")
                       if k in s} for s in steps]}
    out["reconciles"] = out["reconciles"] and out["input"] == out["kept"] + sum(dropped.values()) + sum(errors.values())
    return out


def run_to_file(name: str, inputs: list[str], stages: list[Any], output: str | Path, dropped: str | Path | None = None,
                seed: int = 0, workers: int = 0, warc_options: dict[str, Any] | None = None) -> dict[str, Any]:
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
