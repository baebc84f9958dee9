"""Line-level cleaning: remove page chrome and spam lines so that document rules see the article.

Rules (each removed line is counted under ``lines_removed`` and ``lines_removed_<rule>``):
- ``spam``: a line with >= ``spam_min_hits`` distinct spam markers (crypto, porn, gambling, pharma terms in
  en/zh/ja/ko, ``filters/data/lexicon.yaml``), so an article that mentions Bitcoin once stays;
- ``spam_block``: a run of >= ``spam_block_min_lines`` lines that each carry a marker and do not read as
  prose (pasted crypto-news or porn-site headline blocks);
- ``c4``: C4's line rules (Raffel et al. 2020): any line containing "javascript" or a policy phrase
  ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies");
  optionally lines without terminal punctuation / with fewer than ``c4_min_words`` words;
- ``boilerplate``: short lines (<= ``boilerplate_max_words`` words and, with CJK text, <= ``boilerplate_max_width``
  display columns) holding
  a page-chrome phrase of the lexicon (cookie, share, login, related, copyright, footer; en/de/fr/es/zh/ja/ko);
- ``nav``: menu lines, >= 3 items of <= 4 words separated by | • · » › or ►;
- ``url``: lines that are only a URL;
- ``repeat``: the second and later copies of a line within the page (menus shown twice, ranking lists);
- ``layout``: lines outside the article regions that ``filters.layout`` finds (runs of short lines
  without a sentence end, repeated lines, date-only lines: navigation, related lists, comments, footers);
- ``edge_block``: a run of >= ``edge_block_min_lines`` short lines (<= ``edge_line_max_words`` words)
  without terminal punctuation at the very start or end of the document: headers, link-list footers.
Whole pages: a page carrying a gambling-SEO signature (``spam:seo``), or whose kept lines carry markers
of a ``page_families`` family in >= ``page_line_frac`` of them (``spam:<family>``), is dropped, as is a
page left empty (``clean:empty``). A sample of removed lines is kept in ``meta.removed_lines_sample`` as
``rule<TAB>line`` rows (truncated to ``sample_chars``) and the count in ``meta.removed_lines``.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from curate.stage import Stage, StageResult
from filters._stage import Verdict, run_docs
from filters.layout import LayoutConfig, article_mask, ends_sentence
from filters.lexicon import Lexicon, compile_lexicon
from filters.text import TERMINAL_PUNCT, cjk_fraction, display_width, words

C4_POLICY = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
             "javascript"]
_NAV_SEP = re.compile(r"\s*[|•·»›►]\s*")
_URL = re.compile(r"^(https?://|www\.)\S+$", re.I)


@dataclass
class _Rules:
    lex: Lexicon
    policy: list[str]


class LineCleanStage(Stage):
    """Remove boilerplate / spam lines (see module doc); count and sample what was removed."""

    name = "clean_lines"

    @dataclass
    class Config:
        lexicon: str | None = None  # word-list YAML replacing filters/data/lexicon.yaml
        spam_patterns: dict[str, list[str]] | None = None  # family -> regexes; None: the lexicon's
        seo_signatures: list[str] | None = None
        boilerplate_patterns: dict[str, list[str]] | None = None  # language -> regexes; None: the lexicon's
        spam_min_hits: int = 2
        spam_block_min_lines: int = 3
        boilerplate_max_words: int = 12
        boilerplate_max_width: int = 30  # and for lines with CJK text, <= this display width (15 characters)
        c4_policy: list[str] = field(default_factory=lambda: list(C4_POLICY))
        c4_terminal_punct: bool = False  # C4 drops every line not ending in . ! ? " (harsh on titles)
        c4_min_words: int = 0  # C4 uses 3
        nav: bool = True
        urls: bool = True
        repeated_lines: bool = True  # remove a line's later copies within the page (menus twice, ranking lists)
        layout: LayoutConfig = field(default_factory=LayoutConfig)
        edge_block_min_lines: int = 0  # 3 before the layout rule existed; the layout rule covers it
        edge_line_max_words: int = 10
        page_seo: bool = True
        page_families: list[str] = field(default_factory=lambda: ["gambling", "porn", "pharma"])
        page_line_frac: float = 0.25
        page_min_lines: int = 2
        sample_chars: int = 2000

    def _compile(self) -> _Rules:
        c = self.config
        return _Rules(compile_lexicon(c.lexicon, c.spam_patterns, c.seo_signatures, c.boilerplate_patterns),
                      [p.lower() for p in c.c4_policy])

    def line_rule(self, line: str, r: _Rules) -> str | None:
        """The rule that removes this (stripped, non-empty) line, or None to keep it."""
        c = self.config
        if len({m.lower() for m in r.lex.any_spam.findall(line)}) >= c.spam_min_hits:
            return "spam"
        low = line.lower()
        if any(p in low for p in r.policy):
            return "c4"
        n = len(words(line))
        if c.c4_terminal_punct and not line.endswith(TERMINAL_PUNCT):
            return "c4"
        if n < c.c4_min_words:
            return "c4"
        if n <= c.boilerplate_max_words and r.lex.boilerplate.search(line) and \
                (display_width(line) <= c.boilerplate_max_width or not cjk_fraction(line)):
            return "boilerplate"
        if c.urls and _URL.match(line):
            return "url"
        if c.nav and "{" not in line:
            items = [x for x in _NAV_SEP.split(line) if x]
            if len(items) >= 3 and len(items) > line.count(" ") / 4 and all(len(x.split()) <= 4 for x in items):
                return "nav"
        return None

    def _edge_candidate(self, line: str) -> bool:
        """A header/footer-like line: few words and no sentence end (a trailing ellipsis is UI text).
        Bulleted lines are content lists (an article's closing summary), not navigation."""
        if line.startswith(("- ", "• ", "* ")):
            return False
        ends = line.endswith(TERMINAL_PUNCT) and not line.endswith(("...", "…"))
        return not ends and len(words(line)) <= self.config.edge_line_max_words

    def _spam_blocks(self, lines: list[str], verdict: list[str | None], rules: _Rules) -> None:
        """Mark runs of non-prose lines that each carry a spam marker (pasted headline blocks)."""
        run: list[int] = []
        for i, s in enumerate(lines + [""]):
            if s and rules.lex.any_spam.search(s) and (not ends_sentence(s) or verdict[i] == "spam"):
                run.append(i)
                continue
            if len(run) >= self.config.spam_block_min_lines:
                for j in run:
                    verdict[j] = verdict[j] or "spam_block"
            run = []

    def _edge_blocks(self, lines: list[str], verdict: list[str | None]) -> None:
        idx = list(range(len(lines)))
        for order in (idx, idx[::-1]):
            run = []
            for i in order:
                if verdict[i] is None and not self._edge_candidate(lines[i]):
                    break
                run.append(i)  # lines removed by another rule extend the block
            if len(run) >= self.config.edge_block_min_lines:
                for i in run:
                    verdict[i] = verdict[i] or "edge_block"

    def clean(self, text: str, rules: _Rules) -> tuple[str, list[tuple[str, str]]]:
        """Cleaned text and the removed (rule, line) pairs in document order."""
        c = self.config
        raw = text.split("\n")
        content = [i for i, s in enumerate(raw) if s.strip()]
        lines = [raw[i].strip() for i in content]
        verdict: list[str | None] = [self.line_rule(s, rules) for s in lines]
        if c.spam_block_min_lines:
            self._spam_blocks(lines, verdict, rules)
        if c.layout.enabled and lines:
            for i, inside in enumerate(article_mask(lines, [v is not None for v in verdict], c.layout)):
                if not inside:
                    verdict[i] = verdict[i] or "layout"
        if c.edge_block_min_lines:
            self._edge_blocks(lines, verdict)
        if c.repeated_lines:  # after layout: the copy that survives is the article's (a headline, not its menu copy)
            seen: set[str] = set()
            for i, s in enumerate(lines):
                if verdict[i] is None and s in seen:
                    verdict[i] = "repeat"
                if verdict[i] is None:
                    seen.add(s)
        removed = [(v, s) for v, s in zip(verdict, lines) if v is not None]
        if not removed:
            return text, removed
        gone = {content[i] for i, v in enumerate(verdict) if v is not None}
        kept = "\n".join(s for i, s in enumerate(raw) if i not in gone)
        return re.sub(r"\n{3,}", "\n\n", kept).strip("\n"), removed

    def page_spam(self, text: str, cleaned: str, rules: _Rules) -> str | None:
        """``spam:seo`` for a gambling-SEO signature anywhere in the page, ``spam:<family>`` when that
        family's markers are in >= ``page_line_frac`` of the kept lines (and in >= ``page_min_lines``)."""
        c = self.config
        if c.page_seo and rules.lex.signatures.search(text):
            return "spam:seo"
        kept = [s for s in cleaned.split("\n") if s.strip()]
        for fam in c.page_families:
            rx = rules.lex.spam.get(fam)
            if rx is None or not kept:
                continue
            n = sum(1 for s in kept if rx.search(s))
            if n >= c.page_min_lines and n / len(kept) >= c.page_line_frac:
                return f"spam:{fam}"
        return None

    def apply(self, batch: pa.Table, state: Any) -> StageResult:
        rules = self._compile()
        counts: Counter = Counter()

        def decide(text: str, meta: dict[str, str], _id: str) -> Verdict:
            cleaned, removed = self.clean(text, rules)
            counts["lines_removed"] += len(removed)
            counts.update(f"lines_removed_{rule}" for rule, _ in removed)
            m = {"removed_lines": len(removed)}
            if removed:
                m["removed_lines_sample"] = "\n".join(f"{r}\t{s}" for r, s in removed)[: self.config.sample_chars]
            reason = "clean:empty" if not cleaned.strip() else self.page_spam(text, cleaned, rules)
            return Verdict(reason, m, cleaned)

        res = run_docs(batch, self.name, decide)
        res.counters = dict(counts)
        return res
