"""The shared test-data loaders read real text from the corpus, with sources and URLs."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.docs import corpus_docs
from tests.support.filter_texts import dedup_docs, html_text, jawiki, korean_fragments


def test_loaders_read_real_text(corpus):
    docs = dedup_docs(corpus)
    assert {d["kind"] for d in docs} == {"web", "wiki", "books"} and len(docs) == 300
    assert "武汉" in html_text(corpus, "xinhuanet.com.c_1125597921.html")
    assert len(jawiki(corpus, 3)) == 3 and all(re.search("[\u3040-\u309f]", t) for t in jawiki(corpus, 3))
    assert "고려청자" in " ".join(korean_fragments(corpus))


def test_corpus_docs_have_sources_and_urls(corpus: Path) -> None:
    rows = corpus_docs(corpus)
    assert len(rows) == 400 and len({r["id"] for r in rows}) == 400
    by_source = {s: sum(r["source"] == s for r in rows) for s in ("web", "wiki", "books")}
    assert sum(by_source.values()) == 400 and min(by_source.values()) > 50
    assert all(r["url"].startswith("http") for r in rows if r["source"] == "web" and "#" not in r["url"])
