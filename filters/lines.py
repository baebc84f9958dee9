"""Line-level cleaning: remove page chrome and spam lines so that document rules see the article.

Rules (each removed line is counted under ``lines_removed`` and ``lines_removed_<rule>``):
- ``spam``: a line with >= ``spam_min_hits`` distinct spam markers (crypto, porn, gambling, pharma terms in
  en/zh/ja/ko, ``filters/resources/lexicon.yaml``), so an article that mentions Bitcoin once stays; a line
  ending a sentence needs a marker per ``spam_prose_width`` columns (prose names a topic's terms in passing);
- ``spam_block``: among consecutive lines that do not end a sentence, the span from the first to the last
  line with a spam marker when >= ``spam_block_min_lines`` lines carry one and they are >=
  ``spam_block_min_share`` of it (pasted crypto-news or porn-site headline blocks);
- ``c4``: C4's line rules (Raffel et al. 2020): any line containing "javascript" or a policy phrase
  ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies");
  optionally lines without terminal punctuation / with fewer than ``c4_min_words`` words;
- ``boilerplate``: short lines (<= ``boilerplate_max_words`` words and, with CJK text, <= ``boilerplate_max_width``
  display columns) holding
  a page-chrome phrase of the lexicon (cookie, share, login, related, copyright, footer; en/de/fr/es/zh/ja/ko);
- ``label``: a line led by a field label (<= 12 characters before a colon) that is a page-chrome phrase of
  the lexicon (the phrase at least half of it), up to ``label_max_width`` columns: prev/next links
  (上一篇：<title>), tag and editor lines;
- ``nav``: menu lines, >= 3 items of <= 4 words separated by | • · » › or ►;
- ``url``: lines that are only a URL;
- ``repeat``: on pages the layout rule cuts, the second and later copies of a line (menus shown twice,
  ranking lists);
- ``site_repeat``: lines that do not read as prose and occur in >= ``site_repeat_min_docs`` pages of the
  same site (host) in the input (a ``fit`` pass, CCNet-style; ``filters.site_repeats``): templates;
- ``layout``: lines outside the article regions that ``filters.layout`` finds (runs of short lines
  without a sentence end, repeated lines, date-only lines: navigation, related lists, comments, footers);
- ``headline_block``: a run of >= ``headline_block_min_lines`` headline-shaped lines (20-100 columns, no full
  stop or clause mark, no bullet or number) with their date lines, half of them dated or with a spam marker:
  a portal or news headline list pasted into an article (language-neutral: no word list needed);
- ``edge_block``: on pages the layout rule leaves whole, a run of >= ``edge_block_min_lines`` short lines
  (<= ``edge_line_max_words`` words) without terminal punctuation at the very start or end of the document:
  headers, link-list footers left by a main-content extractor.
Whole pages: a page carrying a gambling-SEO signature (``spam:seo``), or whose kept lines are keyword/title
lines with markers of a ``page_families`` family in >= ``page_line_frac`` of them, or carry such markers at
all in >= ``page_prose_frac`` of them (``spam:<family>``), is dropped, as is a page left empty
(``clean:empty``). A single mention, or sentences about the topic, keep a page. A sample of removed lines
is kept in ``meta.removed_lines_sample`` as ``rule<TAB>line`` rows (truncated to ``sample_chars``) and the
count in ``meta.removed_lines``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from curate.config import PATH, bounds
from curate.filters._stage import Verdict, run_docs
from curate.filters.layout import EMAIL, LayoutConfig, article_mask, ends_sentence, is_date_line, reads_as_prose
from curate.filters.lexicon import CHROME, Lexicon, compile_lexicon
from curate.filters.site_repeats import fit_site_repeats, host, line_hash
from curate.filters.text import (
    TERMINAL_PUNCT,
    cjk_fraction,
    display_width,
    join_wrapped,
    more_words,
    words,
    wrapped_paragraphs,
)
from curate.stage import FitContext, Stage, StageResult

C4_POLICY = [
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
    "javascript",
]
_NAV_MARKS = "[|•·»›►]"
_NAV_SEP = re.compile(rf"\s*{_NAV_MARKS}\s*")
_NAV_MARK = re.compile(_NAV_MARKS)
_URL = re.compile(r"^(https?://|www\.)\S+$", re.I)
_PROSE_MARK = re.compile(r"[。．、，]|[.,;:：](?:\s|$)")  # a full stop or clause mark: a sentence, not a headline
_POINTERS = set("☞☛▶▷►▸◀◆◇◈※★☆➤➔→⇒")
_SHORT_CALL = re.compile(r"[!?！？]\W*$")
# a field label before a colon: "上一篇：", "[责任编辑:", "< 前の記事：", "01/19 版主回覆：", "Tags:"
_LABEL = re.compile(r"^[\[【〔(（<\s]*([^:：\[\]【】〔〕()（）\n]{1,12}?)\s*[\]】〕)）]?\s*[:：]")
AD = "ad"  # the lexicon family of text-ad calls to action


def _merge(hits: list[dict[str, set[str]]]) -> dict[str, set[str]]:
    """Spam markers (family -> phrases) of the physical lines of one paragraph, chrome phrases left out."""
    out: dict[str, set[str]] = {}
    for h in hits:
        for g, v in h.items():
            if g != CHROME:
                out[g] = out.get(g, set()) | v
    return out


@dataclass
class _Rules:
    lex: Lexicon
    policy: list[str]
    families: set[str]
    spam_regex: bool


class LineCleanStage(Stage):
    """Remove boilerplate / spam lines (see module doc); count and sample what was removed."""

    name = "clean_lines"

    @dataclass
    class Config:
        lexicon: str | None = field(default=None, metadata=PATH)  # word-list YAML replacing the bundled one
        spam_patterns: dict[str, list[str]] | None = None  # family -> regexes; None: the lexicon's
        seo_signatures: list[str] | None = None
        boilerplate_patterns: dict[str, list[str]] | None = None  # language -> regexes; None: the lexicon's
        spam_min_hits: int = field(default=2, metadata=bounds(ge=1))
        spam_prose_width: int = field(default=120, metadata=bounds(ge=1))
        spam_block_min_lines: int = field(default=3, metadata=bounds(ge=0))  # 0: off
        spam_block_min_share: float = field(default=0.6, metadata=bounds(ge=0, le=1))
        boilerplate_max_words: int = field(default=12, metadata=bounds(ge=0))
        # and for lines with CJK text, <= this display width (15 characters)
        boilerplate_max_width: int = field(default=30, metadata=bounds(ge=0))
        # a line led by a label of <= 12 characters and a colon, the label holding a page-chrome phrase
        # (上一篇：<title>, Tags: a, b, 前の記事：<title>), up to this display width (0: off)
        label_max_width: int = field(default=160, metadata=bounds(ge=0))
        c4_policy: list[str] = field(default_factory=lambda: list(C4_POLICY))
        c4_terminal_punct: bool = False  # C4 drops every line not ending in . ! ? " (harsh on titles)
        c4_min_words: int = field(default=0, metadata=bounds(ge=0))  # C4 uses 3
        nav: bool = True
        urls: bool = True
        repeated_lines: bool = True  # on raw pages, remove a line's later copies (menus twice, ranking lists)
        layout: LayoutConfig = field(default_factory=LayoutConfig)
        # pages the layout rule leaves whole; 0: off
        edge_block_min_lines: int = field(default=3, metadata=bounds(ge=0))
        edge_line_max_words: int = field(default=10, metadata=bounds(ge=0))
        # a run of this many dated headline-shaped lines (a pasted portal or news list) goes; 0: off
        headline_block_min_lines: int = field(default=5, metadata=bounds(ge=0))
        headline_min_width: int = field(default=20, metadata=bounds(ge=0))
        headline_max_width: int = field(default=100, metadata=bounds(ge=1))
        # fit: lines in >= this many pages of a site are chrome (0: off)
        site_repeat_min_docs: int = field(default=2, metadata=bounds(ge=0))
        site_repeat_partitions: int = field(default=8, metadata=bounds(ge=1))
        # kinds of curated sources whose reader already cut each document to its article (wikitext without
        # templates and navigation): the page-layout rules (layout, edge_block, headline_block, repeat) skip
        # them, so a list article keeps its list; spam, boilerplate, nav and url lines still go
        curated_kinds: list[str] = field(default_factory=lambda: ["wiki"])
        page_seo: bool = True
        page_families: list[str] = field(default_factory=lambda: ["gambling", "porn", "pharma"])
        page_line_frac: float = field(default=0.15, metadata=bounds(ge=0, le=1))
        page_prose_frac: float = field(default=0.5, metadata=bounds(ge=0, le=1))
        page_min_lines: int = field(default=2, metadata=bounds(ge=0))
        sample_chars: int = field(default=2000, metadata=bounds(ge=0))

    def _compile(self) -> _Rules:
        c = self.config
        lex = compile_lexicon(c.lexicon, c.spam_patterns, c.seo_signatures, c.boilerplate_patterns)
        families = set(lex.families)
        return _Rules(lex, [p.lower() for p in c.c4_policy], families, lex.matcher.has_regex(families))

    def line_rule(
        self, line: str, r: _Rules, spam: dict[str, set[str]] | None = None, chrome: bool | None = None
    ) -> str | None:
        """The rule that removes this (stripped, non-empty) line, or None to keep it. ``spam`` (family ->
        markers) and ``chrome`` (a boilerplate phrase is in it) come from one pass over the page; given
        a line alone, they are looked up for it."""
        c = self.config
        low = line.lower()
        if spam is None:
            found = r.lex.matcher.hits(low).get(0, {})
            chrome = CHROME in found if chrome is None else chrome
            spam = {g: v for g, v in found.items() if g != CHROME}
            if r.spam_regex:
                spam.update(r.lex.matcher.regex_hits(low, r.families))
        marks = len(set().union(*spam.values())) if spam else 0
        # a paragraph of prose names a topic's terms in passing (a market report on Bitcoin and Ether):
        # it is spam only when the markers are dense (one per ``spam_prose_width`` columns)
        if marks >= c.spam_min_hits and (not ends_sentence(line) or self._dense(spam, line)):
            return "spam"
        if any(p in low for p in r.policy):
            return "c4"
        if c.c4_terminal_punct and not line.endswith(TERMINAL_PUNCT):
            return "c4"
        if c.c4_min_words and len(words(line)) < c.c4_min_words:
            return "c4"
        if not more_words(line, c.boilerplate_max_words) and (
            display_width(line) <= c.boilerplate_max_width or not cjk_fraction(line)
        ):
            if chrome or r.lex.matcher.regex_hits(low, {CHROME}):
                return "boilerplate"
        if c.label_max_width and display_width(line) <= c.label_max_width:
            m = _LABEL.match(low)
            # the label is a chrome phrase (with a qualifier: 本文关键词, 此分類上一篇), not a name that holds
            # one (生物学に関する記事の一覧: an entry of a list article)
            found = r.lex.matcher.hits(m.group(1)).get(0, {}).get(CHROME, ()) if m else ()
            if found and 2 * max(map(len, found)) >= len(m.group(1).replace(" ", "")):
                return "label"
        if c.urls and _URL.match(line):
            return "url"
        if c.nav and "{" not in line and _NAV_MARK.search(line):  # the search spares the split of most lines
            items = [x for x in _NAV_SEP.split(line) if x]
            if len(items) >= 3 and len(items) > line.count(" ") / 4 and all(len(x.split()) <= 4 for x in items):
                return "nav"
        return None

    def _edge_candidate(self, line: str) -> bool:
        """A header/footer-like line: few words and no sentence end (a trailing ellipsis is UI text).
        Bulleted lines are content lists (an article's closing summary), and lines starting with a number
        are quantities or numbered items (an ingredient list, a ranking), not navigation."""
        if line[:1] in _POINTERS:  # ☞ ▶ ◆ ※: a teaser or ad link, whatever its last character
            return True
        if line.startswith(("- ", "• ", "* ")) or line[:1].isdigit():
            return False
        ends = line.endswith(TERMINAL_PUNCT) and not line.endswith(("...", "…"))
        return not ends and len(words(line)) <= self.config.edge_line_max_words

    def _spam_blocks(self, lines: list[str], verdict: list[str | None], spam: list[dict]) -> None:
        """Mark pasted headline blocks: in a run of lines that do not end a sentence (or are spam), the span
        from the first to the last line carrying a spam marker, when >= ``spam_block_min_lines`` lines
        carry one and they are >= ``spam_block_min_share`` of the span (a few headlines of a block name no
        marker; the article's own title before the block stays)."""
        c = self.config
        run: list[int] = []
        for i, s in enumerate(lines + [""]):
            if s and (not ends_sentence(s) or verdict[i] == "spam"):
                run.append(i)
                continue
            marked = [j for j in run if spam[j]]
            if len(marked) >= c.spam_block_min_lines and len(marked) >= c.spam_block_min_share * (
                marked[-1] - marked[0] + 1
            ):
                for j in range(marked[0], marked[-1] + 1):
                    verdict[j] = verdict[j] or "spam_block"
            run = []

    def _headline_blocks(self, lines: list[str], verdict: list[str | None], spam: list[dict]) -> None:
        """Mark pasted headline lists: runs of >= ``headline_block_min_lines`` headline-shaped lines
        (``headline_min_width``..``headline_max_width`` columns, no full stop or clause mark, no bullet or
        number) with the date lines and removed lines between them, when half of the headlines carry a date or
        a spam marker or stand beside a date line; an article's subheadings stand between paragraphs."""
        c = self.config

        def kind(s: str) -> str:
            """'h' a headline-shaped line (may end in ? or !, holds no full stop or clause mark), 'd' a date
            line, '' anything else."""
            w = display_width(s)
            if (
                c.headline_min_width <= w <= c.headline_max_width
                and not _PROSE_MARK.search(s)
                and not s.startswith(("- ", "• ", "* "))
                and not s[0].isdigit()
            ):
                return "h"
            return "d" if w <= c.headline_max_width and is_date_line(s) else ""

        kinds = [kind(s) if v is None else "" for s, v in zip(lines, verdict)]
        run: list[int] = []
        for i in range(len(lines) + 1):
            if i < len(lines) and (verdict[i] is not None or kinds[i]):
                run.append(i)
                continue
            heads = [j for j in run if kinds[j] == "h"]
            # headline lists carry dates or spam markers (in the line or on a line of its own); a list of an
            # article's own points does not
            marked = sum(bool(spam[j]) or is_date_line(lines[j], 60) for j in heads) + sum(kinds[j] == "d" for j in run)
            if len(heads) >= c.headline_block_min_lines and 2 * marked >= len(heads):
                for j in run:
                    verdict[j] = verdict[j] or "headline_block"
            run = []

    def _edge_blocks(self, lines: list[str], verdict: list[str | None], spam: list[dict], cut: bool) -> None:
        """Mark the header/footer blocks at the start and end (see ``_edge_candidate``). Once the block holds
        a teaser (a line led by a pointer ``☞ ▶ ◆ ※`` or carrying an ``ad`` marker), short lines ending in
        ``!`` or ``?`` belong to it too (ad copy and related headlines end so); a byline with the reporter's
        e-mail stays and the block goes on past it. A single pointer-led ad line is a block of its own.
        ``cut``: the layout rule cut the page; only a trailing block with >= 2 teasers goes then (the related
        and ad lines a news feed appends after the sign-off, which the tail window keeps): the head of a cut
        page is its headline and byline."""
        c = self.config
        idx = list(range(len(lines)))
        for order in [idx[::-1]] if cut else (idx, idx[::-1]):
            run: list[int] = []
            teasers = ads = 0
            for i in order:
                s = lines[i]
                if verdict[i] is None and EMAIL.search(s) and len(words(s)) <= c.edge_line_max_words:
                    continue
                teaser = verdict[i] is None and (s[:1] in _POINTERS or AD in spam[i])
                if verdict[i] is None and not (
                    teaser
                    or self._edge_candidate(s)
                    or (teasers and _SHORT_CALL.search(s) and len(words(s)) <= c.edge_line_max_words)
                ):
                    break
                teasers += teaser
                ads += teaser and s[:1] in _POINTERS and AD in spam[i]
                run.append(i)  # lines removed by another rule extend the block
            if (len(run) >= c.edge_block_min_lines or ads) and (not cut or teasers >= 2):
                for i in run:
                    verdict[i] = verdict[i] or "edge_block"

    def clean(
        self, text: str, rules: _Rules, repeats: set[int] | None = None, site: str = ""
    ) -> tuple[str, list[tuple[str, str]]]:
        """Cleaned text and the removed (rule, line) pairs in document order; ``repeats`` are the hashes of
        lines repeated across the pages of a site (``fit``), ``site`` this page's host."""
        cleaned, removed, _ = self._clean(text, rules, repeats, site)
        return cleaned, removed

    def _clean(
        self, text: str, rules: _Rules, repeats: set[int] | None = None, site: str = "", curated: bool = False
    ) -> tuple[str, list[tuple[str, str]], list[tuple[dict, bool]]]:
        """``clean`` plus, per kept line, its spam markers (family -> phrases) and whether it is a keyword line;
        ``curated``: a document of a ``curated_kinds`` kind (no page-layout rules)."""
        c = self.config
        raw = text.split("\n")
        # the lines judged: paragraphs of hard-wrapped text (a wrap is no line of its own), else physical lines
        groups = wrapped_paragraphs(raw) or [[i] for i, s in enumerate(raw) if s.strip()]
        lines = [join_wrapped([raw[i] for i in g]) if len(g) > 1 else raw[g[0]].strip() for g in groups]
        found = rules.lex.matcher.hits(text.lower())
        chrome = [any(CHROME in found.get(i, ()) for i in g) for g in groups]
        spam = [_merge([found.get(i, {}) for i in g]) for g in groups]
        if rules.spam_regex:  # spam markers that are regexes
            spam = [{**sp, **rules.lex.matcher.regex_hits(s.lower(), rules.families)} for s, sp in zip(lines, spam)]
        verdict: list[str | None] = [self.line_rule(s, rules, sp, ch) for s, sp, ch in zip(lines, spam, chrome)]
        if repeats:
            for i, s in enumerate(lines):
                if verdict[i] is None and not reads_as_prose(s) and line_hash(site, s) in repeats:
                    verdict[i] = "site_repeat"
        if c.spam_block_min_lines:
            self._spam_blocks(lines, verdict, spam)
        layout = not curated
        mask = (
            article_mask(lines, [v is not None for v in verdict], c.layout)
            if layout and c.layout.enabled and lines
            else None
        )
        for i, inside in enumerate(mask or ()):
            if not inside:
                verdict[i] = verdict[i] or "layout"
        if c.edge_block_min_lines and layout:  # extracted text: only its edges may hold chrome
            self._edge_blocks(lines, verdict, spam, mask is not None)
        if c.headline_block_min_lines and layout:
            self._headline_blocks(lines, verdict, spam)
        if c.repeated_lines and mask is not None:
            # on a raw page, after layout: the copy that survives is the article's (a headline, not its menu
            # copy); in extracted text repeats are content (code, list items) and the repetition rules judge them
            seen: set[str] = set()
            for i, s in enumerate(lines):
                if verdict[i] is None and s in seen:
                    verdict[i] = "repeat"
                if verdict[i] is None:
                    seen.add(s)
        removed = [(v, s) for v, s in zip(verdict, lines) if v is not None]
        # each kept line's spam families, and whether it reads as a keyword/title line (or names two markers):
        # an article about a spam topic writes sentences about it (a news page on a sex-game ransomware); a
        # line counts only where its markers are dense (a paragraph of a novel may say "the fair sex")
        kept_spam = [
            (sp, bool(sp) and (not ends_sentence(s) or len(set().union(*sp.values())) >= 2))
            for sp, s, v in ((self._dense(sp, s), s, v) for sp, s, v in zip(spam, lines, verdict))
            if v is None
        ]
        if not removed:
            return text, removed, kept_spam
        gone = {i for g, v in zip(groups, verdict) if v is not None for i in g}
        kept = "\n".join(s for i, s in enumerate(raw) if i not in gone)
        return re.sub(r"\n{3,}", "\n\n", kept).strip("\n"), removed, kept_spam

    def _dense(self, spam: dict[str, set[str]], line: str) -> dict[str, set[str]]:
        """``spam`` when the line has a distinct marker per ``spam_prose_width`` display columns (a CJK
        character counts two), else none."""
        if not spam:
            return spam
        marks = len(set().union(*spam.values()))
        return spam if marks * self.config.spam_prose_width >= display_width(line) else {}

    def page_spam(self, text: str, kept_spam: list[tuple[dict[str, set[str]], bool]], rules: _Rules) -> str | None:
        """``spam:seo`` for a gambling-SEO signature anywhere in the page; ``spam:<family>`` when, of the kept
        lines (``kept_spam``: each one's markers by family, and whether it is a keyword/title line), >=
        ``page_line_frac`` are keyword lines with that family's markers, or >= ``page_prose_frac`` carry them
        at all (a doorway written in sentences), counting at least ``page_min_lines`` lines."""
        c = self.config
        if c.page_seo and rules.lex.seo_page(text):
            return "spam:seo"
        total = max(1, len(kept_spam))
        for fam in c.page_families:
            n_any = sum(1 for sp, _ in kept_spam if fam in sp)
            n_kw = sum(1 for sp, kw in kept_spam if kw and fam in sp)
            if (n_kw >= c.page_min_lines and n_kw / total >= c.page_line_frac) or (
                n_any >= c.page_min_lines and n_any / total >= c.page_prose_frac
            ):
                return f"spam:{fam}"
        return None

    def fit(self, ctx: FitContext) -> dict | None:
        """Hashes of the non-prose lines repeated in >= ``site_repeat_min_docs`` pages of one site."""
        c = self.config
        if c.site_repeat_min_docs <= 0:
            return None
        hashes = fit_site_repeats(
            ctx.parts, ctx.workdir, ctx.map_parts, ctx.map, c.site_repeat_partitions, c.site_repeat_min_docs
        )
        return {"site_repeats": hashes, "summary": {"site_repeat_lines": len(hashes)}}

    def apply(self, batch: pa.Table, state: Any) -> StageResult:
        rules = self._compile()
        counts: Counter = Counter()
        repeats = set(state["site_repeats"]) if isinstance(state, dict) and state.get("site_repeats") else None
        # run_docs calls decide once per row, in row order
        rows = iter(zip(batch.column("url").to_pylist(), batch.column("kind").to_pylist()))
        curated = set(self.config.curated_kinds)

        def decide(text: str, meta: dict[str, str], _id: str) -> Verdict:
            url, kind = next(rows)
            cleaned, removed, kept_spam = self._clean(text, rules, repeats, host(url), kind in curated)
            counts["lines_removed"] += len(removed)
            counts.update(f"lines_removed_{rule}" for rule, _ in removed)
            m = {"removed_lines": len(removed)}
            if removed:
                m["removed_lines_sample"] = "\n".join(f"{r}\t{s}" for r, s in removed)[: self.config.sample_chars]
            reason = "clean:empty" if not cleaned.strip() else self.page_spam(text, kept_spam, rules)
            return Verdict(reason, m, cleaned)

        res = run_docs(batch, self.name, decide)
        res.counters = dict(counts)
        return res
