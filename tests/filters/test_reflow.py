"""Reflowing hard-wrapped text before the per-line document rules, and script-aware sentence counts, on real text."""

import json

from curate.filters.heuristics import HeuristicStage, evaluate
from curate.filters.langid import LangIdStage
from curate.filters.rules import C4Rules, FineWebRules, GopherQuality, GopherRepetition, check_c4
from curate.filters.text import TERMINAL_PUNCT, count_sentences, counts_sentences, lines, reflow, words
from tests.support.filter_texts import dedup_docs, table

DEFAULTS = (GopherQuality(), GopherRepetition(), C4Rules(), FineWebRules())


def _punct_share(text: str) -> float:
    ls = lines(text)
    return sum(s.endswith(TERMINAL_PUNCT) for s in ls) / len(ls)


def test_book_paragraphs_become_lines(corpus):
    books = [d["text"] for d in dedup_docs(corpus) if d["kind"] == "books"]
    wrapped = [t for t in books if reflow(t) != t]
    assert len(wrapped) >= 0.8 * len(books)
    for t in wrapped:
        r = reflow(t)
        assert "".join(r.split()) == "".join(t.split())  # only line breaks change
        assert len(lines(r)) < len(lines(t))
    before = sum(_punct_share(t) for t in wrapped) / len(wrapped)
    after = sum(_punct_share(reflow(t)) for t in wrapped) / len(wrapped)
    assert before < 0.45 and after > 0.8, (before, after)
    alice = next(t for t in books if "March Hare." in t and "said the\nMarch Hare." in t)
    assert "said the March Hare." in reflow(alice)  # a wrap inside a sentence is joined
    assert "\n\n‘Exactly so,’ said Alice.\n\n" in reflow(alice)  # a short paragraph stays its own line


def test_unwrapped_text_is_left_alone(corpus):
    docs = [d for d in dedup_docs(corpus) if d["kind"] in ("web", "wiki")]
    changed = [d["id"] for d in docs if reflow(d["text"]) != d["text"]]
    assert len(changed) <= 0.02 * len(docs), changed  # paragraphs on one line each: nothing to reflow


def test_korean_wraps_keep_their_space_and_han_joins_without(corpus):
    docs = {json.loads(x)["id"]: json.loads(x) for x in (corpus / "cjk" / "docs.jsonl").open(encoding="utf-8")}
    for d in docs.values():
        r = reflow(d["text"])
        if r == d["text"]:
            continue
        assert words(r) == words(d["text"]) or d["lang"] == "ko"  # Hangul eojeol keep their spaces
        if d["lang"] == "ko":
            assert len(r.split()) == len(d["text"].split())


def test_hard_wrapped_books_pass_the_document_rules(corpus):
    books = [d for d in dedup_docs(corpus) if d["kind"] == "books"]
    res = HeuristicStage().apply(LangIdStage().apply(table(books), None).kept, None)
    assert res.kept.num_rows >= 0.97 * len(books), res.dropped["reason"].to_pylist()
    english = [d["text"] for d in books if evaluate(d["text"], "en", *DEFAULTS) != "gopher:stop_words"]
    # without the reflow, C4's 5-sentence rule (off by default) drops most passages: their lines end mid-sentence
    c4 = C4Rules(min_sentences=5)
    raw_pass = sum(check_c4(t, c4) is None for t in english)
    reflowed_pass = sum(check_c4(reflow(t), c4) is None for t in english)
    assert raw_pass < 0.7 * len(english) and reflowed_pass >= 0.9 * len(english), (raw_pass, reflowed_pass)


def test_sentence_marks_of_other_scripts(corpus):
    # real Hindi / Arabic sentence ends are not in the corpus; the danda and Arabic question mark are checked
    # on a real English book sentence with its final mark replaced
    book = next(d["text"] for d in dedup_docs(corpus) if d["kind"] == "books")
    sentence = reflow(book).split("\n")[0].rstrip(".!?’”'\"")
    for mark in ("।", "؟", "։", "።", "။"):
        assert count_sentences(f"{sentence}{mark} {sentence}{mark}") == 2 * count_sentences(f"{sentence}.")
        assert f"{sentence}{mark}".endswith(TERMINAL_PUNCT)
    assert counts_sentences(book)
