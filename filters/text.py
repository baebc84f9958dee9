"""Text helpers shared by the filters: a CJK-aware word tokenizer and line/paragraph splitting.

Whitespace tokenization turns a Chinese or Japanese sentence into one "word", so word-count and
word-length rules would drop every such page. ``words`` splits Han, Hiragana and Katakana runs into
single characters (the unit CJK word segmenters start from) and keeps Hangul eojeol (Korean separates
words with spaces). ``is_cjk_word`` lets length-based rules skip those tokens. ``wrapped_paragraphs`` /
``reflow`` find the paragraphs of hard-wrapped text, so per-line rules judge paragraphs, not the wrap.
"""

from __future__ import annotations

import re

# Han (incl. ext. A and compatibility), Hiragana, Katakana (+ phonetic ext., half-width).
_CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HANGUL = "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
_WORD_RE = re.compile(rf"[{_CJK_CHARS}]|[^\s{_CJK_CHARS}]+")
_CJK_RE = re.compile(rf"[{_CJK_CHARS}{_HANGUL}]")
_HAN_KANA = re.compile(rf"[{_CJK_CHARS}]")
_PUNCT_RE = re.compile(r"^[\W_]+$")
_PARAGRAPH_SPLIT = re.compile(r"\n\s*\n")
_BULLETS = ("- ", "• ", "* ", "· ", "– ")
_PARAGRAPH_END = (
    ".",
    "!",
    "?",
    '"',
    "'",
    "”",
    "’",
    "»",
    ")",
    "]",
    ":",
    ";",
    ",",
    "…",
    "。",
    "！",
    "？",
    "」",
    "』",
    "।",
    "؟",
    "։",
    "።",
    "။",
    "།",
)

# Line endings that count as the end of a sentence (C4 / FineWeb), plus the sentence-final marks of other
# scripts: CJK full-width, Devanagari/Bengali danda, Arabic/Urdu, Armenian, Ethiopic, Myanmar, Tibetan.
_SCRIPT_ENDS = "。！？।॥؟۔։።፧။།"
TERMINAL_PUNCT = (".", "!", "?", '"', "'", "”", "’", "」", "』", "…", "．", *_SCRIPT_ENDS)
SENTENCE_RE = re.compile(rf"[{_SCRIPT_ENDS}]+[」』”]*|[.!?]+[\"'”’)]*(?:\s+|$)")
# Scripts written without sentence-final punctuation (Thai, Lao): sentences cannot be counted by marks.
_UNPUNCTUATED = re.compile(r"[\u0e00-\u0eff]")


def words(text: str) -> list[str]:
    """Word tokens with punctuation-only tokens removed; Han/Kana characters are one token each."""
    # without Han/Kana the tokens are the whitespace-separated runs, and str.split() splits on exactly
    # the characters the regex's \s matches; an all-letters-and-digits token is never punctuation-only
    tokens = text.split() if text.isascii() or not _HAN_KANA.search(text) else _WORD_RE.findall(text)
    return [w for w in tokens if w.isalnum() or not _PUNCT_RE.match(w)]


def more_words(text: str, n: int) -> bool:
    """``len(words(text)) > n``, counting only as far as ``n + 1`` words on text without Han/Kana."""
    if not (text.isascii() or not _HAN_KANA.search(text)):
        return len(words(text)) > n
    count = 0
    for w in text.split():
        if w.isalnum() or not _PUNCT_RE.match(w):
            count += 1
            if count > n:
                return True
    return False


def is_cjk_word(w: str) -> bool:
    """True for tokens made of CJK characters (Han, Kana or Hangul), whose length in characters
    says nothing comparable to a Latin word's."""
    return bool(_CJK_RE.match(w))


def has_cjk(text: str) -> bool:
    """True when ``text`` holds a CJK character (Han, Kana or Hangul)."""
    return _CJK_RE.search(text) is not None


def cjk_fraction(text: str) -> float:
    """Fraction of non-space characters that are CJK (Han, Kana, Hangul)."""
    if text.isascii():
        return 0.0
    cjk = len(_CJK_RE.findall(text))
    if not cjk:
        return 0.0
    return cjk / sum(map(len, text.split()))  # str.split() splits on exactly the str.isspace() characters


def lines(text: str) -> list[str]:
    """Non-empty stripped lines."""
    return list(filter(None, map(str.strip, text.split("\n"))))


def paragraphs(text: str) -> list[str]:
    """Non-empty stripped paragraphs (split on blank lines)."""
    return list(filter(None, map(str.strip, _PARAGRAPH_SPLIT.split(text))))


def count_sentences(text: str) -> int:
    """Sentence count by terminal punctuation (Latin and CJK full-width marks)."""
    return len(SENTENCE_RE.findall(text))


def counts_sentences(text: str) -> bool:
    """False for text mostly in a script that ends no sentence with a mark (Thai, Lao), where a sentence
    count by punctuation says nothing."""
    n = sum(ch.isalpha() for ch in text[:2000])
    return not n or len(_UNPUNCTUATED.findall(text[:2000])) < n / 2


def wrapped_paragraphs(
    raw: list[str], min_wrap: int = 40, max_wrap: int = 120, fill: float = 0.7
) -> list[list[int]] | None:
    """The non-empty lines of ``raw`` (a text's physical lines) grouped into paragraphs when the text is
    hard-wrapped (books, plain-text mail, crawl text wrapped at a fixed width), else None. A text is
    hard-wrapped when its 90th-percentile line width (display columns) lies in [``min_wrap``, ``max_wrap``]
    and at least half its lines fill ``fill`` of that width; a line that fills it continues on the next
    non-empty line when that one fills it too or ends a sentence or clause (the paragraph's last line; a
    short line is a paragraph of its own: a heading, a verse, a menu item). A bulleted line starts one."""
    if len(raw) < 3:
        return None
    widths = [display_width(s.strip()) for s in raw]
    filled = sorted(w for w in widths if w)
    if len(filled) < 3:
        return None
    wrap = filled[(len(filled) - 1) * 9 // 10]
    long = fill * wrap
    if not min_wrap <= wrap <= max_wrap or sum(w >= long for w in filled) * 2 < len(filled):
        return None
    out: list[list[int]] = []
    join = False
    for i, (s, w) in enumerate(zip(raw, widths)):
        if not w:
            join = False
            continue
        s = s.strip()
        # a short line after a full one is the paragraph's last line: it ends a sentence or a clause (a menu
        # item or a caption after a long headline does not)
        if join and not s.startswith(_BULLETS) and (w >= long or s.endswith(_PARAGRAPH_END)):
            out[-1].append(i)
        else:
            out.append([i])
        join = w >= long
    return out


def join_wrapped(parts: list[str]) -> str:
    """Stripped physical lines of one paragraph as one line: a space between them, none after a hyphen or
    between two Han/Kana characters (Chinese and Japanese are written without spaces; Korean has them)."""
    out = ""
    for s in parts:
        s = s.strip()
        if out and not (out.endswith("-") or (_HAN_KANA.match(out[-1]) and _HAN_KANA.match(s[0]))):
            out += " "
        out += s
    return out


def reflow(text: str) -> str:
    """Hard-wrapped text (``wrapped_paragraphs``) with each paragraph on one line, blank lines kept between
    paragraphs that had them, so per-line ratios see paragraphs, not the wrap; other text unchanged."""
    raw = text.split("\n")
    groups = wrapped_paragraphs(raw)
    if groups is None:
        return text
    out: list[str] = []
    prev = -1
    for g in groups:
        if g[0] > prev + 1 and out:
            out.append("")
        out.append(join_wrapped([raw[i] for i in g]))
        prev = g[-1]
    return "\n".join(out)


def display_width(s: str) -> int:
    """Length in terminal columns: CJK characters are East Asian Wide and count as two, so a
    length threshold set on Latin text (FineWeb's 30-character short line) is fairer to CJK lines."""
    return len(s) if s.isascii() else len(s) + len(_CJK_RE.findall(s))
