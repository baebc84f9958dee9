"""Names a recipe may use, mapped lazily to their implementations (importing one loads only it)."""

from __future__ import annotations

import importlib
from typing import Any

READERS: dict[str, str] = {
    "warc": "curate.sources.warc:WarcReader",  # WARC, WARC.gz, WET, ARC
    "mediawiki": "curate.sources.wiki:WikiReader",
    "text": "curate.sources.books:BooksReader",
    "code": "curate.sources.code:CodeReader",
    "jsonl": "curate.sources.tabular:JsonlReader",
    "parquet": "curate.sources.tabular:ParquetReader",
    "documents-jsonl": "curate.docfiles:DocumentJsonlReader",  # rows keep their id/source/kind/url/meta
    "documents-parquet": "curate.docfiles:DocumentParquetReader",
}

STAGES: dict[str, str] = {
    "extract": "curate.extract.web:ExtractStage",
    "langid": "curate.filters.langid:LangIdStage",
    "heuristics": "curate.filters.heuristics:HeuristicStage",
    "clean_lines": "curate.filters.lines:LineCleanStage",
    "quality": "curate.filters.quality:QualityStage",
    "dedup_exact": "curate.dedup.exact:ExactDedupStage",
    "dedup": "curate.dedup.minhash:MinHashDedupStage",
    "mix": "curate.mix.planner:MixStage",
    "tokenize": "curate.tokenizer.stage:TokenizeStage",
    "holdout": "curate.ablate.holdout:HoldoutStage",  # removes an ablation's evaluation text
    "pii": "curate.filters.pii:PiiStage",
    "url_filter": "curate.filters.url_filter:UrlFilterStage",
    "decontaminate": "curate.filters.decontaminate:DecontaminateStage",
    "code_filters": "curate.filters.code_filters:CodeFilterStage",
    "fix_text": "curate.filters.fix_text:FixTextStage",
}


def _load(spec: str) -> Any:
    mod, _, attr = spec.partition(":")
    return getattr(importlib.import_module(mod), attr)


def reader_class(fmt: str, where: str = "format") -> Any:
    from curate.config import RecipeError, did_you_mean

    if fmt not in READERS:
        raise RecipeError(
            f"{where}: unknown reader format {fmt!r}{did_you_mean(fmt, READERS)}; allowed: {', '.join(sorted(READERS))}"
        )
    return _load(READERS[fmt])


def stage_class(name: str, where: str = "stages") -> Any:
    """The class of a registered stage name, or of a user stage named by import path (``mypkg.filters:MyFilter``)."""
    from curate.config import RecipeError, did_you_mean

    if isinstance(name, str) and ":" in name:
        return user_stage_class(name, where)
    if name not in STAGES:
        raise RecipeError(
            f"{where}: unknown stage {name!r}{did_you_mean(name, STAGES)}; allowed stages: "
            f"{', '.join(STAGES)}, or a user stage as module:Class"
        )
    return _load(STAGES[name])


def user_stage_class(spec: str, where: str) -> Any:
    """``module:Class`` imported; it must be a subclass of ``curate.stage.Stage``. Errors name ``where``."""
    from curate.config import RecipeError
    from curate.stage import Stage

    mod, _, attr = spec.partition(":")
    if not mod or not attr.isidentifier():
        raise RecipeError(f"{where}: {spec!r} is not an import path of the form module:Class")
    try:
        module = importlib.import_module(mod)
    except Exception as e:  # the user's module: any failure to import it is reported, not raised
        raise RecipeError(f"{where}: cannot import {mod!r} ({type(e).__name__}: {e})") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise RecipeError(f"{where}: module {mod!r} has no {attr!r}")
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise RecipeError(
            f"{where}: {spec} is not a stage class (a subclass of curate.stage.Stage, e.g. curate.steps.DocFilter)"
        )
    return cls
