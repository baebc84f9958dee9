"""Variant recipes of an ablation: one base recipe, derived by dropping stages, plus the holdout stage.

Variant names (``--variants``): ``curated`` (the recipe), ``raw`` (only the stages in ``RAW_STAGES``:
reading, extraction, the recipe's mixture and tokenizer), ``-NAME`` (the recipe without the stages named
NAME or NAME_*, e.g. ``-dedup`` drops ``dedup`` and ``dedup_exact``; ``-quality-dedup`` drops both), or a
recipe file path (its stages on the base recipe's sources; named by the file's stem).
Every variant gets the ``holdout`` stage first (on the reference sources), so the evaluation text is
removed from every variant's input and that step is shared by all of them.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from curate.recipe import RecipeError, read_yaml

RAW_STAGES = ("extract", "mix", "tokenize")
REQUIRED = ("mix", "tokenize")


def stage_name(entry: Any) -> str:
    """The stage name of a raw recipe ``stages`` entry (``"dedup"`` or ``{"dedup": {...}, "only": [...]}``)."""
    if isinstance(entry, str):
        return entry
    keys = [k for k in entry if k != "only"] if isinstance(entry, dict) else []
    if len(keys) != 1:
        raise RecipeError(f"stages: expected one stage name per entry, got {entry!r}")
    return keys[0]


def _as_mapping(entry: Any) -> dict[str, Any]:
    return {entry: {}} if isinstance(entry, str) else copy.deepcopy(entry)


def is_recipe_path(variant: str) -> bool:
    return variant.endswith((".yaml", ".yml")) or "/" in variant


def variant_label(variant: str) -> str:
    return Path(variant).stem if is_recipe_path(variant) else variant


def variant_stages(base: dict[str, Any], variant: str) -> list[dict[str, Any]]:
    """The stage entries of ``variant`` derived from the base recipe ``base`` (raw YAML dict)."""
    stages = [_as_mapping(s) for s in base.get("stages") or []]
    names = [stage_name(s) for s in stages]
    if variant == "curated":
        out = stages
    elif variant == "raw":
        out = [s for s, n in zip(stages, names) if n in RAW_STAGES]
    elif variant.startswith("-") and len(variant) > 1:
        drop = [d for d in variant[1:].split("-") if d]
        missing = [d for d in drop if not any(n == d or n.startswith(d + "_") for n in names)]
        if missing:
            raise RecipeError(
                f"--variants {variant}: the recipe has no stage {missing[0]!r} (its stages: {', '.join(names)})"
            )
        out = [s for s, n in zip(stages, names) if not any(n == d or n.startswith(d + "_") for d in drop)]
    elif is_recipe_path(variant):
        other = _load_yaml(variant)
        theirs = sorted((s.get("name"), s.get("kind")) for s in other.get("sources") or [] if isinstance(s, dict))
        ours = sorted((s.get("name"), s.get("kind")) for s in base.get("sources") or [])
        if theirs != ours:
            raise RecipeError(
                f"--variants {variant}: its sources {theirs} differ from the base recipe's {ours}; "
                f"an ablation compares variants built from the same sources"
            )
        out = [_as_mapping(s) for s in other.get("stages") or []]
    else:
        raise RecipeError(f"--variants: unknown variant {variant!r}; use raw, curated, -STAGE or a recipe path")
    have = [stage_name(s) for s in out]
    for req in REQUIRED:
        if have.count(req) != 1:
            raise RecipeError(
                f"variant {variant!r}: an ablation needs exactly one {req!r} stage, found {have.count(req)}"
            )
    return out


def _load_yaml(path: str) -> dict[str, Any]:
    raw = read_yaml(Path(path), "--variants: recipe file")
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: expected a mapping at the top level")
    return raw


def build_recipe(
    base: dict[str, Any],
    stages: list[dict[str, Any]],
    holdout: dict[str, Any],
    reference: list[str],
    target_tokens: int | None,
    tokenizer: str | None,
    eval_dir: Path | None = None,
) -> dict[str, Any]:
    """A complete raw recipe: the base's sources, ``holdout`` first, the mix budget and tokenizer set. A
    ``decontaminate`` stage's ``holdout_sources`` become the evaluation files in ``eval_dir``: ``holdout``
    has already cut the held-out chunks from the reference documents, so they cannot be recomputed there."""
    raw = {k: copy.deepcopy(v) for k, v in base.items() if k not in ("stages", "tokenizer")}
    out = [{"holdout": dict(holdout), "only": list(reference)}]
    for s in copy.deepcopy(stages):
        name = stage_name(s)
        if name == "mix" and target_tokens is not None:
            s["mix"] = dict(s.get("mix") or {}, target_tokens=int(target_tokens))
        if name == "tokenize" and tokenizer is not None:
            s["tokenize"] = dict(s.get("tokenize") or {}, model=str(tokenizer))
        if name == "decontaminate" and eval_dir is not None and (s.get("decontaminate") or {}).get("holdout_sources"):
            cfg = {k: v for k, v in s["decontaminate"].items() if not k.startswith("holdout_")}
            cfg["eval_files"] = list(cfg.get("eval_files") or []) + [str(eval_dir / f"{r}.jsonl") for r in reference]
            s["decontaminate"] = cfg
        out.append(s)
    raw["stages"] = out
    return raw


def reference_sources(base: dict[str, Any]) -> list[str]:
    """Source names whose text is the evaluation reference: the quality stage's ``positives`` (names or
    kinds) when the recipe has one, else the sources of kind wiki or books."""
    sources = [s for s in base.get("sources") or [] if isinstance(s, dict)]
    wanted: list[str] = ["wiki", "books"]
    for s in base.get("stages") or []:
        if stage_name(s) == "quality" and isinstance(s, dict):
            wanted = list((s.get("quality") or {}).get("positives") or wanted)
    names = [s["name"] for s in sources if s.get("name") in wanted or s.get("kind") in wanted]
    if not names:
        raise RecipeError(
            f"ablate: no source is named or of kind {wanted}; name the reference sources with --reference"
        )
    return names


def order_for_reuse(variants: list[str], stages: dict[str, list[dict[str, Any]]], first: str) -> list[str]:
    """``first``, then greedily the variant sharing the longest stage prefix with the one built before it:
    variants are built one after another in one run directory, so a shared prefix is reused (resume)."""

    def common(a: list, b: list) -> int:
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return n

    order, left = [first], [v for v in variants if v != first]
    while left:
        nxt = max(left, key=lambda v: (common(stages[order[-1]], stages[v]), -left.index(v)))
        order.append(nxt)
        left.remove(nxt)
    return order
