"""Document-level quality rules with their published default thresholds.

Each ``check_*`` returns None (pass) or a ``Fail``: the reason ``family:rule`` with the value and threshold.
Defaults are those of datatrove
(``src/datatrove/pipeline/filters/``), which reimplements the published rules:
- ``gopher_quality_filter.py`` (Rae et al. 2021, Gopher, App. A): 50..100,000 words, mean word length
  3..10, symbol ('#', '...') to word ratio <= 0.1, <= 90% bullet lines, <= 30% lines ending in an
  ellipsis, >= 80% words with a letter, >= 2 of the stop words "the be to of and that have with".
- ``gopher_repetition_filter.py``: duplicate line / paragraph fraction 0.3, their character
  fractions 0.2, top n-gram character fraction (2: 0.20, 3: 0.18, 4: 0.16), duplicated n-gram
  character fraction (5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10).
- ``c4_filters.py`` (Raffel et al. 2020, C4): drop pages with "lorem ipsum" (on), or a curly bracket, or
  fewer than 5 sentences in lines that end in terminal punctuation and have >= 3 words (both off by
  default: FineWeb-2 applies no C4 rule, and they drop good prose; see the fields below).
- ``fineweb_quality_filter.py`` (Penedo et al. 2024, FineWeb): fraction of lines ending in terminal
  punctuation > 0.12, fraction of lines <= 30 chars < 0.67, fraction of characters in duplicated
  lines < 0.01, newlines per word <= 0.3.
  Our changes: every per-line ratio is computed on paragraphs (``text.reflow`` joins hard wraps); the two
  line ratios skip the cells of a data table flattened to one cell per line
  (``layout.table_rows``), which end no sentence by nature (datatrove counts every line); a paragraph holding
  two sentence ends counts as ending in punctuation (``line_punct_min_sentences``); the newline ratio counts
  line breaks between text lines (a blank line between paragraphs is layout).
- Our Gopher changes, each judging the text, not its layout: a document of 25..49 words is kept when it is
  sentences by C4's original rule (``short_doc_min_sentences``); a numbered list's item numbers ("01. Robert
  Plant") are no words for the alphabetic-words ratio; the ellipsis-lines rule needs >= 3 such lines
  (``min_ellipsis_lines``); "--" (plain text's em dash) and "*" without a space (a footnote mark) open no bullet;
  the top n-gram share counts only when an n-gram repeats.

CJK: words come from ``filters.text.words`` (one token per Han/Kana character), the mean word length
is taken over non-CJK tokens only, the stop-word rule applies only to languages with a list, n-gram
rules use longer character n-grams on mostly-CJK text, and line lengths are display widths (a CJK
character counts as two columns).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from curate.config import bounds
from curate.filters.layout import table_rows
from curate.filters.repetition import NGrams
from curate.filters.text import (
    SENTENCE_RE,
    TERMINAL_PUNCT,
    cjk_fraction,
    count_sentences,
    counts_sentences,
    display_width,
    lines,
    paragraphs,
    words,
)
from curate.filters.wordstats import alpha_words, count_in, latin_words, mean_stripped_length

GOPHER_STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]
_EDGE_PUNCT = "".join(chr(i) for i in range(0x2000, 0x2070)) + string.punctuation + "«»„“”‘’‚‹›¡¿·"


@dataclass
class GopherQuality:
    enabled: bool = True
    min_doc_words: int = field(default=50, metadata=bounds(ge=0))
    max_doc_words: int = field(default=100_000, metadata=bounds(ge=1))
    min_avg_word_length: float = field(default=3.0, metadata=bounds(ge=0))
    max_avg_word_length: float = field(default=10.0, metadata=bounds(ge=0))
    max_symbol_word_ratio: float = field(default=0.1, metadata=bounds(ge=0))
    max_bullet_lines_ratio: float = field(default=0.9, metadata=bounds(ge=0, le=1))
    max_ellipsis_lines_ratio: float = field(default=0.3, metadata=bounds(ge=0, le=1))
    min_alpha_words_ratio: float = field(default=0.8, metadata=bounds(ge=0, le=1))
    min_stop_words: int = field(default=2, metadata=bounds(ge=0))
    # the ellipsis-lines rule targets lists of truncated teasers ("First words of a story..."); it needs this
    # many such lines, as a list needs items: one or two paragraphs that trail off ("Je m'y cramponnai. Puis,
    # ... je m'évanouis…") in a short text are prose, though they are > 30% of its lines; 0: datatrove
    min_ellipsis_lines: int = field(default=3, metadata=bounds(ge=0))
    # A document of short_doc_min_words..min_doc_words words is kept (still judged by the other rules) when
    # its text is sentences by C4's original length rule (tensorflow/datasets c4_utils.py: >= 3 sentences in
    # lines of >= 5 words ending in terminal punctuation; C4 has no word minimum): a short news item or service
    # description is prose, a 40-word menu or link list is not. 25 words is Dolma's floor (stubs, parse
    # errors); 0 sentences keeps Gopher's plain 50-word minimum.
    short_doc_min_words: int = field(default=25, metadata=bounds(ge=0))
    short_doc_min_sentences: int = field(default=3, metadata=bounds(ge=0))
    # language code (meta.lang) -> stop words; documents in other languages skip the rule
    stop_words: dict[str, list[str]] = field(default_factory=lambda: {"en": list(GOPHER_STOP_WORDS)})


@dataclass
class GopherRepetition:
    enabled: bool = True
    dup_line_frac: float = field(default=0.3, metadata=bounds(ge=0, le=1))
    dup_para_frac: float = field(default=0.3, metadata=bounds(ge=0, le=1))
    dup_line_char_frac: float = field(default=0.2, metadata=bounds(ge=0, le=1))
    dup_para_char_frac: float = field(default=0.2, metadata=bounds(ge=0, le=1))
    top_ngrams: dict[int, float] = field(
        default_factory=lambda: {2: 0.2, 3: 0.18, 4: 0.16}, metadata=bounds(ge=0, le=1)
    )
    dup_ngrams: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}, metadata=bounds(ge=0, le=1)
    )
    # Mostly-CJK documents (> half their characters) use character n-grams of this many times n:
    # a Chinese/Japanese word is about two characters. On real jawiki articles the duplicated
    # 5-gram fraction is 0.10-0.23 with single characters and <= 0.06 with 10-character n-grams.
    cjk_ngram_scale: int = field(default=2, metadata=bounds(ge=1))


@dataclass
class C4Rules:
    enabled: bool = True
    lorem_ipsum: bool = True
    # C4 drops a page with any "{" (its target: JavaScript and code left in unextracted pages); in extracted
    # prose one bracket (a formula, a wiki template remnant, a quoted snippet) drops a good article, and
    # FineWeb-2 applies no C4 rule at all: off unless a recipe asks for it
    curly_bracket: bool = False
    # C4 keeps pages with >= 5 sentences (in lines ending in terminal punctuation with >= 3 words). Off by
    # default: FineWeb-2 applies no C4 rule, and for English it is a length proxy that Gopher's 50-word minimum
    # already is, which drops short good articles (stubs, news briefs); 5 restores C4
    min_sentences: int = field(default=0, metadata=bounds(ge=0))
    min_words_per_line: int = field(default=3, metadata=bounds(ge=0))


@dataclass
class FineWebRules:
    enabled: bool = True
    line_punct_thr: float = field(default=0.12, metadata=bounds(ge=0, le=1))
    # a share of lines, so above 1 turns the rule off (FineWeb-2's non-English pipeline sets 999)
    short_line_thr: float = field(default=0.67, metadata=bounds(ge=0))
    short_line_length: int = field(default=30, metadata=bounds(ge=0))
    char_dup_ratio: float = field(default=0.01, metadata=bounds(ge=0, le=1))
    new_line_ratio: float = field(default=0.3, metadata=bounds(ge=0))
    # the line-punctuation and short-line ratios skip the cells of a data table (``layout.table_rows``: a run
    # of >= this many short cells, some with numbers), which are short and end no sentence by nature; 0: off
    table_min_rows: int = field(default=8, metadata=bounds(ge=0))
    # a paragraph holding >= this many sentence ends counts as ending in punctuation for the line-punctuation
    # ratio though its last sentence lacks one (extraction cut it, a signature or link follows on the line):
    # the rule tells sentences from menu and list items, and such a line is sentences; 0: datatrove's count
    line_punct_min_sentences: int = field(default=2, metadata=bounds(ge=0))


C4_MIN_WORDS_PER_LINE = 5  # C4's original (tensorflow/datasets c4_utils.py _MIN_WORDS_PER_LINE)
# a list item's number at the start of a line ("01. Robert Plant", "12) ..."): layout, like a bullet
_ENUMERATOR = re.compile(r"^\(?\d{1,3}[.)]\s+(?=\S*[^\W\d_])")


def c4_sentences(text: str, min_words_per_line: int) -> int:
    """Sentences in the lines C4 keeps: ending in terminal punctuation (not an ellipsis), with
    ``min_words_per_line`` words or more, no "javascript"."""
    good = [
        s
        for s in lines(text)
        if s.endswith(TERMINAL_PUNCT)
        and not s.endswith(("...", "…"))
        and len(words(s)) >= min_words_per_line
        and "javascript" not in s.lower()
    ]
    return count_sentences("\n".join(good))


def _duplicates(items: list[str]) -> tuple[int, int]:
    """(number of elements seen before, their total characters), as Gopher counts them."""
    seen: set[str] = set()
    n = chars = 0
    for x in items:
        if x in seen:
            n += 1
            chars += len(x)
        else:
            seen.add(x)
    return n, chars


class Fail(str):
    """A failing rule's reason (``family:rule``, compares as that string) with the measured ``value`` and the
    ``threshold`` it crossed, recorded on the dropped document."""

    value: float
    threshold: float

    def __new__(cls, reason: str, value: float, threshold: float) -> Fail:
        out = super().__new__(cls, reason)
        out.value, out.threshold = round(float(value), 4), float(threshold)
        return out


def _above(reason: str, value: float, limit: float) -> Fail | None:
    return Fail(reason, value, limit) if value > limit else None


def _below(reason: str, value: float, limit: float) -> Fail | None:
    return Fail(reason, value, limit) if value < limit else None


def check_gopher_quality(text: str, ws: list[str], lang: str, c: GopherQuality) -> Fail | None:
    n = len(ws)
    if n < c.min_doc_words and not (
        c.short_doc_min_sentences
        and c.short_doc_min_words <= n
        and counts_sentences(text)
        and c4_sentences(text, C4_MIN_WORDS_PER_LINE) >= c.short_doc_min_sentences
    ):
        return Fail("gopher:too_few_words", n, c.min_doc_words)
    if f := _above("gopher:too_many_words", n, c.max_doc_words):
        return f
    latin = latin_words(ws)
    if len(latin) >= max(1, n // 2):  # mostly-CJK text: character tokens have no comparable length
        # as datatrove, whose word tokenizer splits punctuation off: "Художник," is 8 letters, "(a)" is 1, and
        # a token of symbols alone ("—", "–") is no word
        mean = mean_stripped_length(latin, _EDGE_PUNCT)
        if f := _below("gopher:mean_word_length_low", mean, c.min_avg_word_length) or _above(
            "gopher:mean_word_length_high", mean, c.max_avg_word_length
        ):
            return f
    if f := _above("gopher:hash_ratio", text.count("#") / n, c.max_symbol_word_ratio) or _above(
        "gopher:ellipsis_ratio", (text.count("...") + text.count("…")) / n, c.max_symbol_word_ratio
    ):
        return f
    ls = lines(text)
    if ls:
        # "*" opens a (markdown) list item only before a space: "*Since the above was written" is a footnote;
        # "--" is plain text's em dash, which opens dialogue ("-- C'est vrai! disait-elle."), not a list item
        bullets = sum(s.startswith(("•", "-", "* ", "·")) and not s.startswith("--") for s in ls) / len(ls)
        ellipses = sum(s.endswith(("...", "…")) for s in ls)
        if f := _above("gopher:bullet_lines", bullets, c.max_bullet_lines_ratio) or (
            ellipses >= c.min_ellipsis_lines
            and _above("gopher:ellipsis_lines", ellipses / len(ls), c.max_ellipsis_lines_ratio)
        ):
            return f
    # Gopher: ">= 80% of words contain an alphabetic character"; a numbered list's item numbers are layout,
    # not words (as a bullet is no word), so a ranked list of names is not "numbers"
    enumerators = sum(bool(_ENUMERATOR.match(s)) for s in ls)
    alpha = alpha_words(ws) / max(1, n - enumerators)
    if f := _below("gopher:alpha_words", alpha, c.min_alpha_words_ratio):
        return f
    stop = c.stop_words.get(lang)
    if stop and c.min_stop_words:
        return _below("gopher:stop_words", count_in(ws, set(stop)), c.min_stop_words)
    return None


def check_gopher_repetition(text: str, ws: list[str], c: GopherRepetition) -> Fail | None:
    total = len(text) or 1
    k = c.cjk_ngram_scale if cjk_fraction(text) > 0.5 else 1
    paras = paragraphs(text)
    if paras and (c.dup_para_frac or c.dup_para_char_frac):  # a 0 threshold turns a rule off (as in datatrove)
        n, chars = _duplicates(paras)
        if f := (c.dup_para_frac and _above("gopher_rep:dup_para_frac", n / len(paras), c.dup_para_frac)) or (
            c.dup_para_char_frac and _above("gopher_rep:dup_para_char_frac", chars / total, c.dup_para_char_frac)
        ):
            return f
    ls = lines(text)
    if ls and (c.dup_line_frac or c.dup_line_char_frac):
        n, chars = _duplicates(ls)
        if f := (c.dup_line_frac and _above("gopher_rep:dup_line_frac", n / len(ls), c.dup_line_frac)) or (
            c.dup_line_char_frac and _above("gopher_rep:dup_line_char_frac", chars / total, c.dup_line_char_frac)
        ):
            return f
    grams = NGrams(ws)
    for n, frac in sorted(c.top_ngrams.items()):
        # when no n-gram repeats, the "most frequent" one is just the first (as datatrove counts it): no
        # repetition, though one n-gram of long words is > 16% of a 30-word text
        if (f := _above(f"gopher_rep:top_{n}gram", grams.top_chars(n * k) / total, frac)) and grams.dup_chars(n * k):
            return f
    for n, frac in sorted(c.dup_ngrams.items()):
        if f := _above(f"gopher_rep:dup_{n}gram", grams.dup_chars(n * k) / total, frac):
            return f
    return None


def check_c4(text: str, c: C4Rules) -> Fail | None:
    low = text.lower()
    if c.lorem_ipsum and "lorem ipsum" in low:
        return Fail("c4:lorem_ipsum", low.count("lorem ipsum"), 0)
    if c.curly_bracket and "{" in text:
        return Fail("c4:curly_bracket", text.count("{"), 0)
    if c.min_sentences and counts_sentences(text):
        return _below("c4:too_few_sentences", c4_sentences(text, c.min_words_per_line), c.min_sentences)
    return None


def check_fineweb(text: str, ws: list[str], c: FineWebRules) -> Fail | None:
    ls = lines(text)
    if not ls:
        return Fail("fineweb:empty", 0, 1)
    table = table_rows(ls, None, c.table_min_rows, c.short_line_length)
    prose = [s for s, cell in zip(ls, table) if not cell] or ls
    k = c.line_punct_min_sentences
    punct = sum(s.endswith(TERMINAL_PUNCT) or bool(k and len(SENTENCE_RE.findall(s)) >= k) for s in prose) / len(prose)
    if punct <= c.line_punct_thr:
        return Fail("fineweb:line_punct_ratio", punct, c.line_punct_thr)
    short = sum(display_width(s) <= c.short_line_length for s in prose) / len(prose)
    if short >= c.short_line_thr:
        return Fail("fineweb:short_line_ratio", short, c.short_line_thr)
    dup = _duplicates(ls)[1] / max(1, len(text.replace("\n", "")))
    if dup >= c.char_dup_ratio:
        return Fail("fineweb:char_dup_ratio", dup, c.char_dup_ratio)
    # line breaks between text lines: a blank line between paragraphs (books, wiki) is layout, as in
    # trafilatura's output (FineWeb's input), which separates paragraphs with one newline
    return _above("fineweb:list_ratio", (len(ls) - 1) / len(ws), c.new_line_ratio) if ws else None
