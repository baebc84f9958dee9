"""Document-level quality rules with their published default thresholds.

Each ``check_*`` returns None (pass) or a reason ``family:rule``. Defaults are those of datatrove
(``src/datatrove/pipeline/filters/``), which reimplements the published rules:
- ``gopher_quality_filter.py`` (Rae et al. 2021, Gopher, App. A): 50..100,000 words, mean word length
  3..10, symbol ('#', '...') to word ratio <= 0.1, <= 90% bullet lines, <= 30% lines ending in an
  ellipsis, >= 80% words with a letter, >= 2 of the stop words "the be to of and that have with".
- ``gopher_repetition_filter.py``: duplicate line / paragraph fraction 0.3, their character
  fractions 0.2, top n-gram character fraction (2: 0.20, 3: 0.18, 4: 0.16), duplicated n-gram
  character fraction (5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10).
- ``c4_filters.py`` (Raffel et al. 2020, C4): drop pages with "lorem ipsum" or a curly bracket, and
  pages with fewer than 5 sentences in lines that end in terminal punctuation and have >= 3 words.
- ``fineweb_quality_filter.py`` (Penedo et al. 2024, FineWeb): fraction of lines ending in terminal
  punctuation > 0.12, fraction of lines <= 30 chars < 0.67, fraction of characters in duplicated
  lines < 0.01, newlines per word <= 0.3.
  Our one change: the two line ratios skip the cells of a data table flattened to one cell per line
  (``layout.table_rows``), which end no sentence by nature (datatrove counts every line).

CJK: words come from ``filters.text.words`` (one token per Han/Kana character), the mean word length
is taken over non-CJK tokens only, the stop-word rule applies only to languages with a list, n-gram
rules use longer character n-grams on mostly-CJK text, and line lengths are display widths (a CJK
character counts as two columns).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from curate.filters.layout import table_rows
from curate.filters.repetition import NGrams
from curate.filters.text import (TERMINAL_PUNCT, cjk_fraction, count_sentences, display_width, is_cjk_word, lines,
                          paragraphs, words)
from curate.recipe import bounds

GOPHER_STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]


@dataclass
class GopherQuality:
    enabled: bool = True
    min_doc_words: int = 50
    max_doc_words: int = 100_000
    min_avg_word_length: float = 3.0
    max_avg_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8
    min_stop_words: int = 2
    # language code (meta.lang) -> stop words; documents in other languages skip the rule
    stop_words: dict[str, list[str]] = field(default_factory=lambda: {"en": list(GOPHER_STOP_WORDS)})


@dataclass
class GopherRepetition:
    enabled: bool = True
    dup_line_frac: float = 0.3
    dup_para_frac: float = 0.3
    dup_line_char_frac: float = 0.2
    dup_para_char_frac: float = 0.2
    top_ngrams: dict[int, float] = field(default_factory=lambda: {2: 0.2, 3: 0.18, 4: 0.16})
    dup_ngrams: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10})
    # Mostly-CJK documents (> half their characters) use character n-grams of this many times n:
    # a Chinese/Japanese word is about two characters. On real jawiki articles the duplicated
    # 5-gram fraction is 0.10-0.23 with single characters and <= 0.06 with 10-character n-grams.
    cjk_ngram_scale: int = 2


@dataclass
class C4Rules:
    enabled: bool = True
    lorem_ipsum: bool = True
    curly_bracket: bool = True
    min_sentences: int = 5
    min_words_per_line: int = 3


@dataclass
class FineWebRules:
    enabled: bool = True
    line_punct_thr: float = 0.12
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_dup_ratio: float = 0.01
    new_line_ratio: float = 0.3
    # the line-punctuation and short-line ratios skip the cells of a data table (``layout.table_rows``: a run
    # of >= this many short cells, some with numbers), which are short and end no sentence by nature; 0: off
    table_min_rows: int = field(default=8, metadata=bounds(ge=0))


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


def check_gopher_quality(text: str, ws: list[str], lang: str, c: GopherQuality) -> str | None:
    n = len(ws)
    if n < c.min_doc_words:
        return "gopher:too_few_words"
    if n > c.max_doc_words:
        return "gopher:too_many_words"
    latin = [w for w in ws if not is_cjk_word(w)]
    if len(latin) >= max(1, n // 2):  # mostly-CJK text: character tokens have no comparable length
        mean = sum(map(len, latin)) / len(latin)
        if mean < c.min_avg_word_length:
            return "gopher:mean_word_length_low"
        if mean > c.max_avg_word_length:
            return "gopher:mean_word_length_high"
    if text.count("#") / n > c.max_symbol_word_ratio:
        return "gopher:hash_ratio"
    if (text.count("...") + text.count("…")) / n > c.max_symbol_word_ratio:
        return "gopher:ellipsis_ratio"
    ls = lines(text)
    if ls:
        if sum(s.startswith(("•", "-", "*", "·")) for s in ls) / len(ls) > c.max_bullet_lines_ratio:
            return "gopher:bullet_lines"
        if sum(s.endswith(("...", "…")) for s in ls) / len(ls) > c.max_ellipsis_lines_ratio:
            return "gopher:ellipsis_lines"
    if sum(any(ch.isalpha() for ch in w) for w in ws) / n < c.min_alpha_words_ratio:
        return "gopher:alpha_words"
    stop = c.stop_words.get(lang)
    if stop and c.min_stop_words:
        stop_set = set(stop)
        if sum(w.lower() in stop_set for w in ws) < c.min_stop_words:
            return "gopher:stop_words"
    return None


def check_gopher_repetition(text: str, ws: list[str], c: GopherRepetition) -> str | None:
    total = len(text) or 1
    k = c.cjk_ngram_scale if cjk_fraction(text) > 0.5 else 1
    paras = paragraphs(text)
    if paras:
        n, chars = _duplicates(paras)
        if n / len(paras) > c.dup_para_frac:
            return "gopher_rep:dup_para_frac"
        if chars / total > c.dup_para_char_frac:
            return "gopher_rep:dup_para_char_frac"
    ls = lines(text)
    if ls:
        n, chars = _duplicates(ls)
        if n / len(ls) > c.dup_line_frac:
            return "gopher_rep:dup_line_frac"
        if chars / total > c.dup_line_char_frac:
            return "gopher_rep:dup_line_char_frac"
    grams = NGrams(ws)
    for n, frac in sorted(c.top_ngrams.items()):
        if grams.top_chars(n * k) / total > frac:
            return f"gopher_rep:top_{n}gram"
    for n, frac in sorted(c.dup_ngrams.items()):
        if grams.dup_chars(n * k) / total > frac:
            return f"gopher_rep:dup_{n}gram"
    return None



def check_c4(text: str, c: C4Rules) -> str | None:
    low = text.lower()
    if c.lorem_ipsum and "lorem ipsum" in low:
        return "c4:lorem_ipsum"
    if c.curly_bracket and "{" in text:
        return "c4:curly_bracket"
    if c.min_sentences:
        good = [s for s in lines(text) if s.endswith(TERMINAL_PUNCT) and len(words(s)) >= c.min_words_per_line
                and "javascript" not in s.lower()]
        if count_sentences("\n".join(good)) < c.min_sentences:
            return "c4:too_few_sentences"
    return None


def check_fineweb(text: str, ws: list[str], c: FineWebRules) -> str | None:
    ls = lines(text)
    if not ls:
        return "fineweb:empty"
    table = table_rows(ls, None, c.table_min_rows, c.short_line_length)
    prose = [s for s, cell in zip(ls, table) if not cell] or ls
    if sum(s.endswith(TERMINAL_PUNCT) for s in prose) / len(prose) <= c.line_punct_thr:
        return "fineweb:line_punct_ratio"
    if sum(display_width(s) <= c.short_line_length for s in prose) / len(prose) >= c.short_line_thr:
        return "fineweb:short_line_ratio"
    if _duplicates(ls)[1] / max(1, len(text.replace("\n", ""))) >= c.char_dup_ratio:
        return "fineweb:char_dup_ratio"
    if ws and text.count("\n") / len(ws) > c.new_line_ratio:
        return "fineweb:list_ratio"
    return None
