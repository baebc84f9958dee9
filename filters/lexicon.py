"""Word lists for line cleaning and spam pages, kept as data (``filters/resources/lexicon.yaml``).

``spam`` maps a family (crypto, porn, gambling, pharma) to marker phrases, ``seo_signatures`` lists regexes
that only gambling-SEO pages carry, ``boilerplate`` maps a language to page-chrome phrases. A recipe replaces
a section with its own mapping, or the whole file with ``lexicon: path.yaml``.

Phrases are matched case-insensitively in one Aho-Corasick pass over the page (``pyahocorasick``; a second
one for the phrases in CJK script on a page holding CJK text): hundreds of alternatives in one Python regex
cost about 1 s per MB, the automaton a few ms. A phrase may start/end with ``\\b`` (a word boundary is
required there); any other regex syntax makes it a regular expression, which is slower (applied per line,
only to the lines a rule looks at).
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import ahocorasick
import yaml

BUNDLED = Path(__file__).with_name("resources") / "lexicon.yaml"
_NEVER = re.compile(r"(?!)")
_REGEX_SYNTAX = re.compile(r"[\\\[\]()?*+|^$.{}]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


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
    """One case-insensitive, multi-line alternation of ``patterns`` (never matches when empty)."""
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I | re.M) if patterns else _NEVER


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class Matcher:
    """Phrases by group (e.g. spam family), found per line of a page in one pass."""

    def __init__(self, groups: dict[str, list[str]]):
        # Two automata: pyahocorasick looks a node's children up one by one, and the hundreds of CJK first
        # characters at one root made every character of a Latin page pay for them (3x slower); a phrase holding
        # a CJK character cannot occur in a page without one, so its automaton runs only on such pages.
        by_cjk = {False: ahocorasick.Automaton(), True: ahocorasick.Automaton()}
        regexes: dict[str, list[str]] = {}
        for group, phrases in groups.items():
            for p in phrases:
                core = p.removeprefix("\\b").removesuffix("\\b")
                if not core or _REGEX_SYNTAX.search(core):
                    regexes.setdefault(group, []).append(p)
                    continue
                key = core.lower()
                by_cjk[bool(_CJK.search(key))].add_word(key, (key, group, p.startswith("\\b"), p.endswith("\\b")))
        self._autos = [(auto, cjk) for cjk, auto in by_cjk.items() if len(auto)]
        for auto, _ in self._autos:
            auto.make_automaton()
        self._regex = {g: union(ps) for g, ps in regexes.items()}

    def hits(self, low: str) -> dict[int, dict[str, set[str]]]:
        """line index -> group -> distinct literal phrases found, for the lower-cased page text ``low``."""
        starts = [0] + [m.end() for m in re.finditer("\n", low)]
        out: dict[int, dict[str, set[str]]] = {}

        def add(pos: int, group: str, key: str) -> None:
            line = bisect.bisect_right(starts, pos) - 1
            out.setdefault(line, {}).setdefault(group, set()).add(key)

        for auto, cjk in self._autos:
            if cjk and not _CJK.search(low):
                continue
            for end, (key, group, left, right) in auto.iter(low):
                start = end - len(key) + 1
                if left and start > 0 and _is_word(low[start - 1]):
                    continue
                if right and end + 1 < len(low) and _is_word(low[end + 1]):
                    continue
                add(start, group, key)
        return out

    def regex_hits(self, line_low: str, groups: set[str] | None = None) -> dict[str, set[str]]:
        """Group -> matches of the phrases that are regular expressions (of ``groups``, default all), in one
        lower-cased line: applied per line where a rule needs them, as a regex is slow over a whole page."""
        return {
            g: {m.group(0) for m in rx.finditer(line_low)}
            for g, rx in self._regex.items()
            if (groups is None or g in groups) and rx.search(line_low)
        }

    def has_regex(self, groups: set[str]) -> bool:
        return any(g in self._regex for g in groups)


CHROME = "\0chrome"  # the matcher group of the boilerplate phrases (spam groups are family names)


@dataclass
class Lexicon:
    """Compiled word lists: spam phrases by family and boilerplate phrases (group ``CHROME``) in one
    matcher, and the SEO signatures."""

    matcher: Matcher
    families: tuple[str, ...]
    signatures: re.Pattern

    def seo_page(self, text: str) -> bool:
        """A gambling-SEO signature anywhere in the page (all signatures are CJK: other pages skip it)."""
        return bool(_CJK.search(text)) and bool(self.signatures.search(text))


@functools.lru_cache(maxsize=32)
def _compile(
    spam: tuple[tuple[str, tuple[str, ...]], ...], signatures: tuple[str, ...], boilerplate: tuple[str, ...]
) -> Lexicon:
    groups = {fam: list(ps) for fam, ps in spam}
    groups[CHROME] = list(boilerplate)
    return Lexicon(Matcher(groups), tuple(f for f, _ in spam), union(list(signatures)))


def compile_lexicon(
    path: str | None,
    spam: dict[str, list[str]] | None = None,
    signatures: list[str] | None = None,
    boilerplate: dict[str, list[str]] | None = None,
) -> Lexicon:
    """Compile the lexicon at ``path`` (bundled if None) with any section replaced by the given one."""
    data = load_lexicon(path)
    spam = data.get("spam", {}) if spam is None else spam
    signatures = data.get("seo_signatures", []) if signatures is None else signatures
    boilerplate = data.get("boilerplate", {}) if boilerplate is None else boilerplate
    return _compile(
        tuple((k, tuple(v)) for k, v in spam.items()),
        tuple(signatures),
        tuple(p for v in boilerplate.values() for p in v),
    )
