"""Variant builds: one run directory, one variant after another, each at the reference token budget."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from curate.ablate.keys import code_fingerprint, sha
from curate.ablate.settings import AblateConfig
from curate.ablate.variants import build_recipe, order_for_reuse
from curate.inputkeys import digest_paths
from curate.io import UnsetVariable, expand_paths, expand_vars, read_json, write_json_atomic
from curate.partio import file_sha256
from curate.recipe import RecipeError, parse_recipe

if TYPE_CHECKING:
    from curate.executor import Executor

MAX_BUDGET_TRIES = 6


def manifest_tokens(run_dir: Path) -> int:
    """All tokens (train + val) of a build's shards."""
    return int(sum(read_json(run_dir / "manifest.json")["tokens"].values()))


def next_target(tries: list[dict[str, int]], ref_tokens: int) -> int:
    """The next mix target: a secant step through the last two tries when they give a positive slope,
    else scale the last target by ``ref_tokens / tokens``."""
    t1, n1 = tries[-1]["mix_target_tokens"], tries[-1]["tokens"]
    if len(tries) >= 2:
        t0, n0 = tries[-2]["mix_target_tokens"], tries[-2]["tokens"]
        if t1 != t0 and (n1 - n0) / (t1 - t0) > 0:
            return max(1, round(t1 + (ref_tokens - n1) * (t1 - t0) / (n1 - n0)))
    return max(1, round(t1 * ref_tokens / n1)) if n1 else t1 * 2


def _mix_estimate(summary: dict[str, Any]) -> int | None:
    """The mix stage's planned budget (estimated tokens) from a run summary, if it reports one."""
    for st in summary.get("stages", []):
        if st.get("stage") == "mix":
            fit = st.get("fit") or {}
            if isinstance(fit, dict) and fit.get("target_tokens"):
                return int(fit["target_tokens"])
    return None


class Builder:
    """Builds variant recipes one after another in one run directory with the generic runner."""

    def __init__(
        self,
        base: dict[str, Any],
        base_dir: Path,
        build_dir: Path,
        executor: Executor,
        holdout: dict[str, Any],
        reference: list[str],
        log: Callable[[str], None],
    ):
        self.base, self.base_dir, self.dir, self.ex = base, base_dir, build_dir, executor
        self.holdout, self.reference, self.log = holdout, reference, log

    def build(
        self, label: str, stages: list[dict[str, Any]], target: int | None, tokenizer: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        from curate.runner import Runner

        raw = build_recipe(self.base, stages, self.holdout, self.reference, target, tokenizer, self.dir.parent / "eval")
        recipe = parse_recipe(raw, self.base_dir, default_name=str(self.base.get("name", "recipe")))
        with open(self.dir.parent / "build.log", "a", encoding="utf-8") as detail:

            def log(line: str) -> None:  # every line to build.log; step lines and warnings also to the console
                print(f"[{label}] {line}", file=detail, flush=True)
                if line.startswith(("[", "WARNING")):
                    self.log(f"[{label}] {line}")

            summary = Runner(recipe, self.dir, self.ex, log=log).run()
        return raw, summary

    def build_at_budget(
        self,
        label: str,
        stages: list[dict[str, Any]],
        first_target: int,
        ref_tokens: int,
        tokenizer: str,
        tolerance: float,
    ) -> dict[str, Any]:
        """Build with the mix target corrected until the shards hold ``ref_tokens`` within ``tolerance``
        (secant steps on tokens(target); proportional when there is no usable slope yet); returns the last
        build's recipe, summary and the tries."""
        target, tries = first_target, []
        for _ in range(MAX_BUDGET_TRIES):
            raw, summary = self.build(label, stages, target, tokenizer)
            tokens = manifest_tokens(self.dir)
            tries.append({"mix_target_tokens": target, "tokens": tokens})
            self.log(
                f"[{label}] budget: mix target {target:,} -> {tokens:,} tokens (reference {ref_tokens:,}, "
                f"{tokens / ref_tokens - 1:+.2%})"
            )
            if abs(tokens - ref_tokens) <= tolerance * ref_tokens:
                break
            nxt = next_target(tries, ref_tokens)
            if nxt == target or any(t["mix_target_tokens"] == nxt for t in tries):
                break
            target = nxt
        best = min(tries, key=lambda t: abs(t["tokens"] - ref_tokens))
        if best is not tries[-1]:  # rebuild the closest try (its steps are mostly cheap: mix and tokenize)
            raw, summary = self.build(label, stages, best["mix_target_tokens"], tokenizer)
            tries.append({"mix_target_tokens": best["mix_target_tokens"], "tokens": manifest_tokens(self.dir)})
        return {"recipe": raw, "summary": summary, "tries": tries, "tokens": tries[-1]["tokens"]}

    def export(self, dst: Path, info: dict[str, Any], key: str) -> dict[str, Any]:
        """Copy the build's manifest, shards and tokenizer to ``dst`` (the next variant reuses ``build/``)."""
        shard_set = read_json(self.dir / "manifest.json")["lineage"].split("/")[0]  # shards-<digest>/
        for old in [dst / "shards", *dst.glob("shards-*")]:
            if old.is_symlink() or old.is_file():
                old.unlink()
            else:
                shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(dst / "tokenizer", ignore_errors=True)
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.dir / shard_set, dst / shard_set)  # the manifest's paths name the published set
        (dst / "shards").symlink_to(shard_set, target_is_directory=True)
        shutil.copytree(self.dir / "tokenizer", dst / "tokenizer")
        shutil.copy2(self.dir / "summary.json", dst / "summary.json")
        (dst / "recipe.yaml").write_text(yaml.safe_dump(info["recipe"], sort_keys=False), encoding="utf-8")
        shutil.copy2(self.dir / "manifest.json", dst / "manifest.json")
        record = {
            "key": key,
            "tokens": info["tokens"],
            "tries": info["tries"],
            "manifest_sha256": file_sha256(dst / "manifest.json"),
            "stages": [
                {
                    "stage": s.get("stage"),
                    "in": s.get("in"),
                    "kept": s.get("kept"),
                    "dropped": s.get("dropped_total"),
                    "errors": s.get("errors_total"),
                }
                for s in info["summary"].get("stages", [])
            ],
            "mix_estimate": _mix_estimate(info["summary"]),
        }
        write_json_atomic(record, dst / "build.json")
        return record


def _done(dst: Path, key: str) -> dict[str, Any] | None:
    f = dst / "build.json"
    if f.is_file() and (dst / "manifest.json").is_file():
        rec = read_json(f)
        if rec.get("key") == key and file_sha256(dst / "manifest.json") == rec.get("manifest_sha256"):
            return rec
    return None


def inputs_fingerprint(base: dict[str, Any]) -> list[Any]:
    """The sources' expanded input paths with the digest of their content (``curate.inputkeys``; ``${VAR}``
    and globs resolved), so changed inputs are never mistaken for the ones a reused build read."""
    out: list[Any] = []
    for s in base.get("sources") or []:
        try:
            where = f"sources ({s.get('name')}).paths"
            paths = expand_paths([expand_vars(p, where) for p in s.get("paths") or []], where)
        except (FileNotFoundError, UnsetVariable) as e:
            raise RecipeError(str(e)) from None
        for p, (digest, _) in zip(paths, digest_paths([(p, {}) for p in paths])):
            out.append([s.get("name"), p, digest])
    return out


def build_all(
    cfg: AblateConfig,
    base: dict[str, Any],
    base_dir: Path,
    stages: dict[str, list],
    reference: list[str],
    holdout: dict[str, Any],
    evalrec: dict[str, Any],
    out: Path,
    executor: Executor,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Build every variant (and ``curated``, the reference) at one budget; returns ``build.json`` records."""
    builder = Builder(base, base_dir, out / "build", executor, holdout, reference, log)
    common = {
        "sources": base.get("sources"),
        "inputs": inputs_fingerprint(base),
        "seed": base.get("seed"),
        "holdout": holdout,
        "reference": reference,
        "eval": {k: v["sha256"] for k, v in evalrec["sources"].items()},
        "code": code_fingerprint("curate", "filters", "tokenizer"),
    }
    tok_given = str(Path(cfg.tokenizer).resolve()) if cfg.tokenizer else None
    if tok_given and not Path(tok_given).is_file():
        raise FileNotFoundError(f"--tokenizer: no such file: {cfg.tokenizer}")
    # curated first: it trains the shared tokenizer and (without --tokens) sets the budget
    ref_key = sha([common, stages["curated"], "reference", tok_given and file_sha256(Path(tok_given)), cfg.tokens])
    builds: dict[str, Any] = {}
    # with --tokens the reference build only trains the tokenizer; curated is then built at the budget too
    ref_dir = out / "variants" / "curated" if cfg.tokens is None else out / "reference"
    rec = _done(ref_dir, ref_key)
    if rec is None:
        est = cfg.tokens
        raw, summary = builder.build("curated", stages["curated"], est, tok_given)
        info = {
            "recipe": raw,
            "summary": summary,
            "tries": [{"mix_target_tokens": est or _mix_estimate(summary), "tokens": manifest_tokens(out / "build")}],
        }
        info["tokens"] = info["tries"][0]["tokens"]
        rec = builder.export(ref_dir, info, ref_key)
        if cfg.tokens is None:
            builds["curated"] = rec
    else:
        log("[curated] reusing the reference build (inputs, settings and code unchanged)")
        if cfg.tokens is None:
            builds["curated"] = rec
    tok_src = Path(tok_given) if tok_given else ref_dir / "tokenizer" / "tokenizer.model"
    tok_sha = file_sha256(tok_src)
    tokenizer = out / "tokenizer" / f"{tok_sha[:16]}.model"  # content-addressed: the stage key follows it
    if not tokenizer.is_file():
        tokenizer.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tok_src, tokenizer)
    ref_tokens = cfg.tokens or rec["tokens"]
    last = rec["tries"][-1]  # start where the reference build would land on the budget
    first_target = max(1, round((last["mix_target_tokens"] or ref_tokens) * ref_tokens / max(1, last["tokens"])))
    todo = [lbl for lbl in order_for_reuse(list(stages), stages, "curated") if lbl not in builds]
    for lbl in todo:
        key = sha([common, stages[lbl], tok_sha, ref_tokens, cfg.tolerance])
        dst = out / "variants" / lbl
        done = _done(dst, key)
        if done is not None:
            log(f"[{lbl}] reusing its build (inputs, settings and code unchanged)")
            builds[lbl] = done
            continue
        info = builder.build_at_budget(
            lbl, stages[lbl], first_target, ref_tokens, str(tokenizer.resolve()), cfg.tolerance
        )
        builds[lbl] = builder.export(dst, info, key)
    return builds
