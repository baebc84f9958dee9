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
}


def _load(spec: str) -> Any:
    mod, _, attr = spec.partition(":")
    return getattr(importlib.import_module(mod), attr)


def reader_class(fmt: str, where: str = "format") -> Any:
    from curate.recipe import RecipeError, did_you_mean

    if fmt not in READERS:
        raise RecipeError(f"{where}: unknown reader format {fmt!r}{did_you_mean(fmt, READERS)}; allowed: "
                          f"{', '.join(sorted(READERS))}")
    return _load(READERS[fmt])


def stage_class(name: str, where: str = "stages") -> Any:
    from curate.recipe import RecipeError, did_you_mean

    if name not in STAGES:
        raise RecipeError(f"{where}: unknown stage {name!r}{did_you_mean(name, STAGES)}; allowed stages: "
                          f"{', '.join(STAGES)}")
    return _load(STAGES[name])
