"""Word lists for line cleaning and spam pages, kept as data (``filters/data/lexicon.yaml``).

``spam`` maps a family (crypto, porn, gambling, pharma) to marker regexes, ``seo_signatures`` lists
patterns that only gambling-SEO pages carry, ``boilerplate`` maps a language to page-chrome phrase regexes.
A recipe replaces a section with its own mapping, or the whole file with ``lexicon: path.yaml``.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

BUNDLED = Path(__file__).with_name("data") / "lexicon.yaml"
_NEVER = re.compile(r"(?!)")


@functools.lru_cache(maxsize=8)
def load_lexicon(path: str | None = None) -> dict:
    """The lexicon YAML (bundled one when ``path`` is None) as a dict of sections."""
    p = Path(path) if path else BUNDLED
    with p.open(encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a lexicon is a mapping of sections (spam, seo_signatures, boilerplate)")
    return data


def union(patterns: list[str]) -> re.Pattern:
    """One case-insensitive alternation of ``patterns`` (never matches when empty)."""
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I) if patterns else _NEVER


@dataclass
class Lexicon:
    """Compiled word lists: one regex per spam family, the SEO signatures, all boilerplate phrases."""

    spam: dict[str, re.Pattern]
    any_spam: re.Pattern
    signatures: re.Pattern
    boilerplate: re.Pattern


@functools.lru_cache(maxsize=32)
def _compile(spam: tuple[tuple[str, tuple[str, ...]], ...], signatures: tuple[str, ...],
             boilerplate: tuple[str, ...]) -> Lexicon:
    return Lexicon({fam: union(list(ps)) for fam, ps in spam}, union([p for _, ps in spam for p in ps]),
                   union(list(signatures)), union(list(boilerplate)))


def compile_lexicon(path: str | None, spam: dict[str, list[str]] | None = None,
                    signatures: list[str] | None = None,
                    boilerplate: dict[str, list[str]] | None = None) -> Lexicon:
    """Compile the lexicon at ``path`` (bundled if None) with any section replaced by the given one."""
    data = load_lexicon(path)
    spam = data.get("spam", {}) if spam is None else spam
    signatures = data.get("seo_signatures", []) if signatures is None else signatures
    boilerplate = data.get("boilerplate", {}) if boilerplate is None else boilerplate
    return _compile(tuple((k, tuple(v)) for k, v in spam.items()), tuple(signatures),
                    tuple(p for v in boilerplate.values() for p in v))
