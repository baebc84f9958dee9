import re
from collections import Counter

from tests.test_filters_data import dedup_docs, html_text, jawiki, korean_fragments, table

from curate.filters.heuristics import HeuristicStage, evaluate
from curate.filters.repetition import NGrams
from curate.filters.rules import C4Rules, FineWebRules, GopherQuality, GopherRepetition
from curate.filters.text import cjk_fraction, count_sentences, display_width, words

DEFAULTS = (GopherQuality(), GopherRepetition(), C4Rules(), FineWebRules())


def test_cjk_words_are_characters(corpus):
    zh = html_text(corpus, "xinhuanet.com.c_1125597921.html")
    assert cjk_fraction(zh) > 0.8
    ws = words(zh)
    assert len(ws) > 500 and all(len(w) == 1 for w in ws if "\u4e00" <= w[0] <= "\u9fff")
    assert len(zh.split()) < 60  # whitespace splitting would see only a few dozen "words"
    assert count_sentences(zh) > 20  # "。" ends sentences without a following space
    ko = "청자 상감 모란 넝쿨 무늬 조롱박 모양 주전자"
    assert ko in korean_fragments(corpus)
    assert words(ko) == ko.split()  # Hangul keeps its space-separated words
    assert display_width(ko) == len(ko) + len(ko.replace(" ", ""))


def test_real_cjk_documents_are_judged_fairly(corpus):
    zh = html_text(corpus, "xinhuanet.com.c_1125597921.html")
    assert evaluate(zh, "zh", *DEFAULTS) is None
    assert evaluate(html_text(corpus, "nhk.or.jp.k100.html"), "ja", *DEFAULTS) is None
    ja = jawiki(corpus, 10)
    passed = [evaluate(t, "ja", *DEFAULTS) is None for t in ja]
    assert sum(passed) >= 5, [evaluate(t, "ja", *DEFAULTS) for t in ja]
    # single-character n-grams would flag long Japanese articles as repetitive
    long_ja = max(ja, key=len)
    assert NGrams(words(long_ja)).dup_chars(5) / len(long_ja) > 0.15
    assert evaluate(long_ja, "ja", GopherQuality(enabled=False), GopherRepetition(), C4Rules(enabled=False),
                    FineWebRules(enabled=False)) is None


def test_real_web_wiki_books_reasons(corpus):
    docs = list(dedup_docs(corpus))
    res = HeuristicStage().apply(table(docs), None)
    assert res.kept.num_rows + res.dropped.num_rows == len(docs) and res.errors.num_rows == 0
    kept_web = sum(k == "web" for k in res.kept["kind"].to_pylist())
    assert kept_web > 100  # trafilatura main texts are mostly fine
    reasons = Counter(res.dropped["reason"].to_pylist())
    assert all(r.split(":")[0] in {"gopher", "gopher_rep", "c4", "fineweb"} for r in reasons)
    assert reasons["c4:too_few_sentences"] > 20  # hard-wrapped book passages fail C4's line rule


def test_rules_fire_on_degraded_real_text(corpus):
    doc = next(d["text"] for d in dedup_docs(corpus) if d["kind"] == "web" and evaluate(d["text"], "en", *DEFAULTS) is None
               and len(words(d["text"])) > 300)
    ws = words(doc)
    assert evaluate(" ".join(ws[:30]), "en", *DEFAULTS) == "gopher:too_few_words"
    para = max(doc.split("\n"), key=len)
    assert evaluate("\n\n".join([para] * 10), "en", *DEFAULTS).startswith("gopher_rep:")
    assert evaluate(doc + "\n{", "en", *DEFAULTS) == "c4:curly_bracket"
    assert evaluate(doc.replace(".", "").replace("!", "").replace("?", ""), "en", GopherQuality(),
                    GopherRepetition(), C4Rules(enabled=False), FineWebRules()) == "fineweb:line_punct_ratio"
    assert evaluate("\n".join(ws), "en", *DEFAULTS) is not None
    no_stop = re.sub(r"(?i)\b(the|be|to|of|and|that|have|with)\b", "", doc)
    assert evaluate(no_stop, "en", *DEFAULTS) == "gopher:stop_words"
    assert evaluate(no_stop, "de", *DEFAULTS) is None  # no German list configured: rule skipped


def test_config_from_recipe_keys_and_bad_rows(corpus):
    stage = HeuristicStage.from_dict({"gopher_quality": {"min_doc_words": 10, "stop_words": {}},
                                      "gopher_repetition": {"top_ngrams": {2: 0.5}}, "c4": {"enabled": False},
                                      "fineweb": {"short_line_length": 20}})
    assert stage.config.gopher_quality.min_doc_words == 10 and stage.config.gopher_repetition.top_ngrams == {2: 0.5}
    rows = [{"id": "a", "source": "s", "kind": "web", "text": None}, {"id": "b", "source": "s", "kind": "web",
                                                                     "text": "\x00\ufffd"}]
    res = stage.apply(table(rows), None)
    assert res.dropped.num_rows == 2 and res.errors.num_rows == 0
