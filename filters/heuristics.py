"""Heuristic document filters: Gopher quality, Gopher repetition, C4 and FineWeb rules.

Rules run in that order on the text reflowed into paragraphs (``text.reflow``), and the first failing rule is
the drop reason (``gopher:too_few_words``, ``gopher_rep:top_2gram``, ``fineweb:line_punct_ratio``...), with the
measured value and threshold in ``meta.drop_value`` / ``meta.drop_threshold``. Thresholds and their sources
are in ``filters.rules``. ``meta.lang`` (from ``langid``) picks the overrides of ``languages`` (default:
``filters/resources/heuristics_lang.yaml``): English keeps the published English values, every other language
gets the ``"*"`` row (FineWeb-2's pipeline) and then its own row (FineWeb-2's zh/ja/ko thresholds). The
document's ``kind`` picks overrides of ``kinds`` last (default: ``filters/resources/heuristics_kind.yaml``): a
curated source (``wiki``) is judged by the layout-independent rules only.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from curate.filters._stage import Verdict, run_docs
from curate.filters.rules import (
    C4Rules,
    Fail,
    FineWebRules,
    GopherQuality,
    GopherRepetition,
    check_c4,
    check_fineweb,
    check_gopher_quality,
    check_gopher_repetition,
)
from curate.filters.text import reflow, words
from curate.stage import Stage, StageResult


def evaluate(
    text: str,
    lang: str,
    gopher_quality: GopherQuality,
    gopher_repetition: GopherRepetition,
    c4: C4Rules,
    fineweb: FineWebRules,
) -> Fail | None:
    """The first failing rule's reason, or None when the document passes every enabled rule set. The rules
    read the text reflowed (``text.reflow``): a hard-wrapped paragraph is one line for the per-line ratios."""
    text = reflow(text)
    ws = words(text)
    if gopher_quality.enabled and (r := check_gopher_quality(text, ws, lang, gopher_quality)):
        return r
    if gopher_repetition.enabled and (r := check_gopher_repetition(text, ws, gopher_repetition)):
        return r
    if c4.enabled and (r := check_c4(text, c4)):
        return r
    if fineweb.enabled and (r := check_fineweb(text, ws, fineweb)):
        return r
    return None


LANGUAGES_FILE = Path(__file__).with_name("resources") / "heuristics_lang.yaml"
KINDS_FILE = Path(__file__).with_name("resources") / "heuristics_kind.yaml"
RULE_SETS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")
BASE_LANGUAGE = "en"  # the language the published thresholds were set on
ALL_OTHERS = "*"  # the languages table's entry for every other language


@functools.lru_cache(maxsize=2)
def _bundled(path: Path) -> dict[str, dict[str, dict]]:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def bundled_languages() -> dict[str, dict[str, dict]]:
    return _bundled(LANGUAGES_FILE)


def bundled_kinds() -> dict[str, dict[str, dict]]:
    return _bundled(KINDS_FILE)


def _override(base: Any, changes: dict, where: str) -> Any:
    """``base`` (a rule-set dataclass) with the keys of ``changes`` replaced, type-checked like a recipe."""
    from curate.config import build_config

    return build_config(type(base), {**dataclasses.asdict(base), **changes}, where)


class HeuristicStage(Stage):
    """Drop documents failing the Gopher / C4 / FineWeb rules (each rule set can be disabled or tuned)."""

    name = "heuristics"

    @dataclass
    class Config:
        gopher_quality: GopherQuality = field(default_factory=GopherQuality)
        gopher_repetition: GopherRepetition = field(default_factory=GopherRepetition)
        c4: C4Rules = field(default_factory=C4Rules)
        fineweb: FineWebRules = field(default_factory=FineWebRules)
        # meta.lang -> {rule set: {key: value}} overriding the rule sets above; None: the bundled table
        languages: dict[str, dict[str, dict[str, Any]]] | None = None
        # document kind -> {rule set: {key: value}}, applied after the language's; None: the bundled table
        kinds: dict[str, dict[str, dict[str, Any]]] | None = None

    def rule_sets(self, lang: str, kind: str = "") -> tuple:
        """(gopher_quality, gopher_repetition, c4, fineweb) for documents in ``lang`` of ``kind``: the
        languages table's ``"*"`` entry for every language but English (``BASE_LANGUAGE``, whose published
        rules are the reference), then the language's own entry, then the kinds table's entry for ``kind``."""
        c = self.config
        table = bundled_languages() if c.languages is None else c.languages
        kinds = bundled_kinds() if c.kinds is None else c.kinds
        layers = [("languages", lang, table.get(ALL_OTHERS) or {})] if lang and lang != BASE_LANGUAGE else []
        layers += [("languages", lang, table.get(lang) or {}), ("kinds", kind, kinds.get(kind) or {})]
        over: dict[str, dict] = {}
        for where, key, layer in layers:
            unknown = sorted(set(layer) - set(RULE_SETS))
            if unknown:
                raise ValueError(
                    f"stages.heuristics.{where}.{key}: unknown rule set {unknown[0]!r}; allowed: {', '.join(RULE_SETS)}"
                )
            for k, v in layer.items():
                over[k] = {**over.get(k, {}), **v}
        where = f"stages.heuristics.languages.{lang}" + (f" + kinds.{kind}" if kinds.get(kind) else "")
        return tuple(
            _override(getattr(c, k), over[k], f"{where}.{k}") if k in over else getattr(c, k) for k in RULE_SETS
        )

    def apply(self, batch: pa.Table, state: Any) -> StageResult:
        per_lang: dict[tuple[str, str], tuple] = {}
        kinds = iter(batch.column("kind").to_pylist())  # run_docs calls decide once per row, in row order

        def decide(text: str, meta: dict[str, str], _id: str) -> Verdict:
            key = (str(meta.get("lang") or ""), next(kinds) or "")
            if key not in per_lang:
                per_lang[key] = self.rule_sets(*key)
            fail = evaluate(text, key[0], *per_lang[key])
            if fail is None:
                return Verdict()
            # explainable: the rule, the value measured on the reflowed, cleaned text and its threshold
            return Verdict(str(fail), {"drop_value": fail.value, "drop_threshold": fail.threshold})

        return run_docs(batch, self.name, decide)
