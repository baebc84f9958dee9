"""Text helpers shared by the filters: a CJK-aware word tokenizer and line/paragraph splitting.

Whitespace tokenization turns a Chinese or Japanese sentence into one "word", so word-count and
word-length rules would drop every such page. ``words`` splits Han, Hiragana and Katakana runs into
single characters (the unit CJK word segmenters start from) and keeps Hangul eojeol (Korean separates
words with spaces). ``is_cjk_word`` lets length-based rules skip those tokens.
"""
from __future__ import annotations

import re

# Han (incl. ext. A and compatibility), Hiragana, Katakana (+ phonetic ext., half-width).
_CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HANGUL = "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
_WORD_RE = re.compile(rf"[{_CJK_CHARS}]|[^\s{_CJK_CHARS}]+")
_CJK_RE = re.compile(rf"[{_CJK_CHARS}{_HANGUL}]")
_PUNCT_RE = re.compile(r"^[\W_]+$")

# Line endings that count as the end of a sentence (C4 / FineWeb), plus CJK full-width marks.
TERMINAL_PUNCT = (".", "!", "?", '"', "'", "”", "’", "。", "！", "？", "」", "』", "…", "．")
_SENTENCE_RE = re.compile(r"[。！？]+[」』”]*|[.!?]+[\"'”’)]*(?:\s+|$)")


def words(text: str) -> list[str]:
    """Word tokens with punctuation-only tokens removed; Han/Kana characters are one token each."""
    return [w for w in _WORD_RE.findall(text) if not _PUNCT_RE.match(w)]


def is_cjk_word(w: str) -> bool:
    """True for tokens made of CJK characters (Han, Kana or Hangul), whose length in characters
    says nothing comparable to a Latin word's."""
    return bool(_CJK_RE.match(w))


def cjk_fraction(text: str) -> float:
    """Fraction of non-space characters that are CJK (Han, Kana, Hangul)."""
    n = sum(not c.isspace() for c in text)
    return len(_CJK_RE.findall(text)) / n if n else 0.0


def lines(text: str) -> list[str]:
    """Non-empty stripped lines."""
    return [s for s in (x.strip() for x in text.split("\n")) if s]


def paragraphs(text: str) -> list[str]:
    """Non-empty stripped paragraphs (split on blank lines)."""
    return [s for s in (x.strip() for x in re.split(r"\n\s*\n", text)) if s]


def count_sentences(text: str) -> int:
    """Sentence count by terminal punctuation (Latin and CJK full-width marks)."""
    return len(_SENTENCE_RE.findall(text))


def display_width(s: str) -> int:
    """Length in terminal columns: CJK characters are East Asian Wide and count as two, so a
    length threshold set on Latin text (FineWeb's 30-character short line) is fairer to CJK lines."""
    return len(s) + len(_CJK_RE.findall(s))
