"""Line-level cleaning: remove boilerplate and spam lines inside otherwise good documents.

Rules (each removed line is counted under ``lines_removed`` and ``lines_removed_<rule>``):
- ``spam``: a line with >= ``spam_min_hits`` distinct spam markers (crypto-promotion, porn, casino, pharma
  terms): pasted crypto headlines and spam titles, while an article that mentions Bitcoin once stays;
- ``c4``: C4's line rules (Raffel et al. 2020): any line containing "javascript" or a policy phrase
  ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies");
  optionally lines without terminal punctuation / with fewer than ``c4_min_words`` words;
- ``boilerplate``: short lines (<= ``boilerplate_max_words`` words) that are cookie / subscribe /
  share / login / copyright / legal-notice chrome (English, German, French, Spanish phrases);
- ``nav``: menu lines, >= 3 items of <= 4 words separated by | • · » › or ►;
- ``url``: lines that are only a URL;
- ``edge_block``: a run of >= ``edge_block_min_lines`` short lines (<= ``edge_line_max_words`` words)
  without terminal punctuation at the very start or end of the document: headers, link-list footers.
A sample of removed lines is kept in ``meta.removed_lines_sample`` as ``rule<TAB>line`` rows (truncated
to ``sample_chars``) and the count in ``meta.removed_lines``. Documents left empty drop as ``clean:empty``.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from curate.stage import Stage, StageResult
from curate.filters._stage import Verdict, run_docs
from curate.filters.text import TERMINAL_PUNCT, words

SPAM_PATTERNS = [
    r"bitcoin", r"\bbtc\b", r"ethereum", r"\beth\b", r"crypto\w*", r"blockchain", r"altcoins?", r"dogecoin",
    r"\bnfts?\b", r"airdrop", r"\bico\b", r"price prediction", r"binance", r"coinbase",
    r"porn\w*", r"\bxxx\b", r"\bsex\b", r"nude", r"\bescorts?\b", r"\bmilf\b", r"hentai", r"\bwebcams?\b",
    r"casino", r"\bpoker\b", r"slot machines?", r"betting", r"jackpot", r"viagra", r"cialis",
]
C4_POLICY = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
             "javascript"]
BOILERPLATE_PATTERNS = [
    r"cookie", r"accept all", r"subscribe", r"newsletter", r"sign up", r"log ?in\b", r"sign in", r"log ?out",
    r"\bshare\b", r"follow us", r"read more", r"click here", r"skip to", r"back to top", r"advertisement",
    r"related (posts|articles|stories)", r"leave a (comment|reply)", r"you may also like", r"all rights reserved",
    r"©|\(c\) ?\d{4}", r"terms (and|&) conditions", r"contact us", r"\bimprint\b", r"^(home|menu|search|email)$",
    r"impressum", r"datenschutz", r"zum inhalt", r"nutzungsbedingungen", r"startseite", r"\bteilen\b",
    r"anmelden", r"abonnieren", r"kommentar", r"mentions légales", r"aviso legal", r"inicio de sesión",
    r"^(kategorie|category|tags?|schlagwörter)\s*:",
]
_NAV_SEP = re.compile(r"\s*[|•·»›►]\s*")
_URL = re.compile(r"^(https?://|www\.)\S+$", re.I)


@dataclass
class _Rules:
    spam: re.Pattern
    boiler: re.Pattern
    policy: list[str]


class LineCleanStage(Stage):
    """Remove boilerplate / spam lines (see module doc); count and sample what was removed."""

    name = "clean_lines"

    @dataclass
    class Config:
        spam_patterns: list[str] = field(default_factory=lambda: list(SPAM_PATTERNS))
        spam_min_hits: int = 2
        boilerplate_patterns: list[str] = field(default_factory=lambda: list(BOILERPLATE_PATTERNS))
        boilerplate_max_words: int = 12
        c4_policy: list[str] = field(default_factory=lambda: list(C4_POLICY))
        c4_terminal_punct: bool = False  # C4 drops every line not ending in . ! ? " (harsh on titles)
        c4_min_words: int = 0  # C4 uses 3
        nav: bool = True
        urls: bool = True
        edge_block_min_lines: int = 3
        edge_line_max_words: int = 10
        sample_chars: int = 2000

    def _compile(self) -> _Rules:
        c = self.config
        return _Rules(re.compile("|".join(f"(?:{p})" for p in c.spam_patterns), re.I) if c.spam_patterns
                      else re.compile(r"(?!)"),
                      re.compile("|".join(f"(?:{p})" for p in c.boilerplate_patterns), re.I)
                      if c.boilerplate_patterns else re.compile(r"(?!)"),
                      [p.lower() for p in c.c4_policy])

    def line_rule(self, line: str, r: _Rules) -> str | None:
        """The rule that removes this (stripped, non-empty) line, or None to keep it."""
        c = self.config
        if len({m.lower() for m in r.spam.findall(line)}) >= c.spam_min_hits:
            return "spam"
        low = line.lower()
        if any(p in low for p in r.policy):
            return "c4"
        n = len(words(line))
        if c.c4_terminal_punct and not line.endswith(TERMINAL_PUNCT):
            return "c4"
        if n < c.c4_min_words:
            return "c4"
        if n <= c.boilerplate_max_words and r.boiler.search(line):
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

    def clean(self, text: str, rules: _Rules) -> tuple[str, list[tuple[str, str]]]:
        """Cleaned text and the removed (rule, line) pairs in document order."""
        c = self.config
        raw = text.split("\n")
        verdict: list[str | None] = [None] * len(raw)
        content = [i for i, s in enumerate(raw) if s.strip()]
        for i in content:
            verdict[i] = self.line_rule(raw[i].strip(), rules)
        if c.edge_block_min_lines:
            for order in (content, content[::-1]):
                run = []
                for i in order:
                    if verdict[i] is None and not self._edge_candidate(raw[i].strip()):
                        break
                    run.append(i)  # lines removed by another rule extend the block
                if len(run) >= c.edge_block_min_lines:
                    for i in run:
                        verdict[i] = verdict[i] or "edge_block"
        removed = [(verdict[i], raw[i].strip()) for i in content if verdict[i] is not None]
        kept = "\n".join(s for s, v in zip(raw, verdict) if v is None)
        if removed:
            kept = re.sub(r"\n{3,}", "\n\n", kept).strip("\n")
        return kept, removed

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
            return Verdict("clean:empty" if not cleaned.strip() else None, m, cleaned)

        res = run_docs(batch, self.name, decide)
        res.counters = dict(counts)
        return res
