"""Language identification (filters.langid) on real text in several languages: every row annotated, kept
or dropped by language and per-language threshold.
"""

import json
from collections import Counter

from curate.filters.fasttext_util import load_model
from curate.filters.langid import LangIdStage, bundled_model_path, detect
from tests.support.filter_texts import dedup_docs, html_text, jawiki, korean_fragments, table


def test_detects_real_languages(corpus):
    m = load_model(bundled_model_path())
    assert detect(m, html_text(corpus, "xinhuanet.com.c_1125597921.html"))[0] == "zh"
    assert detect(m, html_text(corpus, "nhk.or.jp.k100.html"))[0] == "ja"
    assert detect(m, jawiki(corpus, 1)[0])[0] == "ja"
    frag = "고려도자기, 고려청자, 고려자기"
    assert frag in korean_fragments(corpus)
    lang, score = detect(m, frag)
    assert lang == "ko" and score > 0.5


def test_filters_and_annotates_every_row(corpus):
    docs = list(dedup_docs(corpus)) + [
        {"id": "empty", "source": "code", "kind": "code", "text": ""},
        {"id": "none", "source": "code", "kind": "code", "text": None},
        {"id": "digits", "source": "code", "kind": "code", "text": "0123 4567\n\n89"},
    ]
    res = LangIdStage.from_dict({"languages": ["en"]}).apply(table(docs), None)
    assert res.kept.num_rows + res.dropped.num_rows + res.errors.num_rows == len(docs)
    assert res.errors.num_rows == 0
    reasons = Counter(res.dropped["reason"].to_pylist())
    assert reasons["lang:de"] > 50 and reasons["lang:fr"] > 10  # the web sample is largely German
    assert reasons["lang:und"] == 3
    metas = [json.loads(m) for m in res.kept["meta"].to_pylist()]
    assert all(m["lang"] == "en" and float(m["lang_score"]) >= 0.65 for m in metas)
    assert all(
        json.loads(m)["lang"] != "en" or float(json.loads(m)["lang_score"]) < 0.65
        for m in res.dropped["meta"].to_pylist()
    )


def test_no_languages_keeps_all_and_per_language_threshold(corpus):
    docs = list(dedup_docs(corpus))[:60]
    res = LangIdStage().apply(table(docs), None)
    assert res.kept.num_rows == 60
    strict = LangIdStage.from_dict({"languages": ["en", "de"], "min_scores": {"de": 1.01}}).apply(table(docs), None)
    assert "de" not in {json.loads(m)["lang"] for m in strict.kept["meta"].to_pylist()}
    assert "lang:low_score" in strict.dropped["reason"].to_pylist()
