"""The filters' fast paths (C-level loops, ASCII and non-CJK shortcuts, the split phrase automata) equal the plain
per-character and per-word formulas they replace, on real text and on real text damaged with the characters the
shortcuts hinge on (Unicode spaces, CJK characters, punctuation-only tokens, underscores)."""

from __future__ import annotations

import json
import random
import re

from curate.filters.lexicon import CHROME, compile_lexicon
from curate.filters.rules import _EDGE_PUNCT
from curate.filters.text import (
    _CJK_RE,
    _PUNCT_RE,
    _WORD_RE,
    cjk_fraction,
    display_width,
    is_cjk_word,
    lines,
    more_words,
    paragraphs,
    words,
)
from curate.filters.wordstats import alpha_words, count_in, latin_words, mean_stripped_length
from tests.support.filter_texts import dedup_docs

# what the shortcuts hinge on: Unicode spaces (str.split vs the regex's \s), Han/Kana/Hangul, punctuation-only and
# underscore tokens, digits of other scripts, letters outside the Latin alphabet
DAMAGE = list("\u00a0\u2003\u3000\u2028\u0085\x1c\t\n 漢字かなカナ한국・ー゠_—–…«»“”‘’#*-·•²٣ⅫẞßΩжé") + [
    " _ ",
    " — ",
    "\n\n",
]


def _texts(corpus) -> list[str]:
    """Real web, wiki and book text, the real CJK pages, and damaged copies of both."""
    texts = [d["text"] for d in dedup_docs(corpus)][:150]
    texts += [json.loads(line)["text"] for line in (corpus / "cjk" / "docs.jsonl").open(encoding="utf-8")]
    rng = random.Random(26)
    damaged = []
    for t in texts[::3]:
        chars = list(t[:4000])
        for _ in range(60):
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(DAMAGE))
        damaged.append("".join(chars))
    return texts + damaged + [""]


def test_text_helpers_equal_their_formulas(corpus):
    for text in _texts(corpus):
        assert words(text) == [w for w in _WORD_RE.findall(text) if not _PUNCT_RE.match(w)]
        n = sum(not c.isspace() for c in text)
        assert cjk_fraction(text) == (len(_CJK_RE.findall(text)) / n if n else 0.0)
        assert lines(text) == [s for s in (x.strip() for x in text.split("\n")) if s]
        assert paragraphs(text) == [s for s in (x.strip() for x in re.split(r"\n\s*\n", text)) if s]
        for s in text.split("\n")[:50]:
            assert display_width(s) == len(s) + len(_CJK_RE.findall(s))
            ws = [w for w in _WORD_RE.findall(s) if not _PUNCT_RE.match(w)]
            assert words(s) == ws
            assert [more_words(s, n) for n in (0, 3, 12)] == [len(ws) > n for n in (0, 3, 12)]


def test_word_counts_equal_their_formulas(corpus):
    stop = {"the", "be", "to", "of", "and", "that", "have", "with"}
    cjk_seen = 0
    for text in _texts(corpus):
        ws = words(text)
        latin = [w for w in ws if not is_cjk_word(w)]
        cjk_seen += len(latin) < len(ws)
        assert latin_words(ws) == latin
        lengths = [n for n in (len(w.strip(_EDGE_PUNCT)) for w in latin) if n]
        assert mean_stripped_length(latin, _EDGE_PUNCT) == sum(lengths) / max(1, len(lengths))
        lengths = [n for n in (len(w.strip(_EDGE_PUNCT + "ae1")) for w in latin) if n]  # an edge of letters too
        assert mean_stripped_length(latin, _EDGE_PUNCT + "ae1") == sum(lengths) / max(1, len(lengths))
        assert alpha_words(ws) == sum(any(ch.isalpha() for ch in w) for w in ws)
        assert count_in(ws, stop) == sum(w.lower() in stop for w in ws)
    assert cjk_seen > 50  # the CJK paths ran, not only the Latin shortcut


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _phrase_hits(low: str, phrases: dict[str, list[str]]) -> dict[int, dict[str, set[str]]]:
    """Every occurrence of every literal phrase by ``str.find``, with its ``\\b`` edges checked."""
    key_group: dict[str, tuple[str, bool, bool]] = {}
    for group, ps in phrases.items():
        for p in ps:
            core = p.removeprefix("\\b").removesuffix("\\b")
            if core and not re.search(r"[\\\[\]()?*+|^$.{}]", core):
                key_group[core.lower()] = (group, p.startswith("\\b"), p.endswith("\\b"))  # the last one wins
    starts = [0] + [m.end() for m in re.finditer("\n", low)]
    out: dict[int, dict[str, set[str]]] = {}
    for key, (group, left, right) in key_group.items():
        i = low.find(key)
        while i >= 0:
            end = i + len(key)
            if not ((left and i > 0 and _word(low[i - 1])) or (right and end < len(low) and _word(low[end]))):
                line = max(j for j, s in enumerate(starts) if s <= i)
                out.setdefault(line, {}).setdefault(group, set()).add(key)
            i = low.find(key, i + 1)
    return out


def test_phrase_automata_find_every_phrase(corpus):
    from curate.filters.lexicon import load_lexicon

    data = load_lexicon(None)
    phrases = {**data["spam"], CHROME: [p for v in data["boilerplate"].values() for p in v]}
    matcher = compile_lexicon(None).matcher
    found = cjk_found = 0
    for text in _texts(corpus)[::2]:
        low = text.lower()
        hits = matcher.hits(low)
        assert hits == _phrase_hits(low, phrases)
        found += len(hits)
        cjk_found += any(_CJK_RE.search(k) for h in hits.values() for ks in h.values() for k in ks)
    assert found > 100 and cjk_found > 5  # both automata found phrases in real pages
