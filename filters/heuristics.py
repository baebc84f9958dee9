"""Heuristic document filters: Gopher quality, Gopher repetition, C4 and FineWeb rules.

Rules run in that order and the first failing rule is the drop reason (``gopher:too_few_words``,
``gopher_rep:top_2gram``, ``c4:curly_bracket``, ``fineweb:line_punct_ratio``...). Thresholds and their
sources are in ``filters.rules``. ``meta.lang`` (from ``langid``) picks the stop-word list.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from curate.stage import Stage, StageResult
from curate.filters._stage import Verdict, run_docs
from curate.filters.rules import (C4Rules, FineWebRules, GopherQuality, GopherRepetition, check_c4, check_fineweb,
                           check_gopher_quality, check_gopher_repetition)
from curate.filters.text import words


def evaluate(text: str, lang: str, gopher_quality: GopherQuality, gopher_repetition: GopherRepetition,
             c4: C4Rules, fineweb: FineWebRules) -> str | None:
    """The first failing rule's reason, or None when the document passes every enabled rule set."""
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


class HeuristicStage(Stage):
    """Drop documents failing the Gopher / C4 / FineWeb rules (each rule set can be disabled or tuned)."""

    name = "heuristics"

    @dataclass
    class Config:
        gopher_quality: GopherQuality = field(default_factory=GopherQuality)
        gopher_repetition: GopherRepetition = field(default_factory=GopherRepetition)
        c4: C4Rules = field(default_factory=C4Rules)
        fineweb: FineWebRules = field(default_factory=FineWebRules)

    def apply(self, batch: pa.Table, state: Any) -> StageResult:
        c = self.config

        def decide(text: str, meta: dict[str, str], _id: str) -> Verdict:
            return Verdict(evaluate(text, meta.get("lang", ""), c.gopher_quality, c.gopher_repetition, c.c4,
                                    c.fineweb))

        return run_docs(batch, self.name, decide)
