"""URL filter on the real URLs of the corpus: every page passes the shipped lists; block-listed domains,
URLs and words (planted into real URLs) are dropped with the list's name as the reason."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from curate.filters.url_filter import UrlFilterStage, default_lists, normalise
from curate.pipeline import Pipeline
from curate.recipe import RecipeError


def page_urls(corpus: Path) -> list[str]:
    return [json.loads(line)["url"] for line in (corpus / "web" / "pages.jsonl").read_text().splitlines()]


def cjk_urls(corpus: Path) -> list[str]:
    return [
        u for line in (corpus / "cjk" / "docs.jsonl").read_text().splitlines() if (u := json.loads(line).get("url"))
    ]


def test_real_urls_pass_the_shipped_lists(corpus):
    stage = UrlFilterStage()
    urls = page_urls(corpus) + cjk_urls(corpus)
    assert len(urls) >= 300 and len(page_urls(corpus)) == 256
    assert [u for u in urls if stage.reason(u)] == []


def test_planted_words_of_every_default_list_are_dropped_and_whole_words_only(corpus):
    stage = UrlFilterStage()
    urls = page_urls(corpus)
    lists = default_lists()
    for k, (cat, entries) in enumerate(sorted(lists.items())):
        for j, word in enumerate(entries["words"] + entries["subwords"]):
            url = urls[(k * 40 + j) % len(urls)]
            parts = urlsplit(url)
            planted = f"{parts.scheme}://{parts.netloc}/{quote(word)}-2019{parts.path}"  # percent-encoded CJK too
            assert stage.reason(planted) == f"url:default_{cat}", (word, planted)
    # a listed word inside a longer token is not that word: Bettingen (a Swiss town), Sussex, Essex
    for url in urls[:20]:
        p = urlsplit(url)
        for token in ("bettingen", "sussex", "essex-news"):
            assert stage.reason(f"{p.scheme}://{p.netloc}/{token}{p.path}") is None


def test_recipe_lists_domains_subdomains_urls_and_allow(corpus, tmp_path):
    urls = page_urls(corpus)
    hosts = sorted({normalise(u)[0] for u in urls})
    blocked = hosts[:5]
    parent = ".".join(normalise(urls[0])[0].split(".")[-2:])  # the registered domain of a page
    stage = UrlFilterStage(UrlFilterStage.Config(block_domains=blocked + [parent]))
    for u in urls:
        host = normalise(u)[0]
        want = "url:block_domains" if host in blocked or host == parent or host.endswith("." + parent) else None
        assert stage.reason(u) == want, u
    assert stage.reason("https://not" + parent + "/x") is None  # a suffix that is not a parent domain
    allowed = UrlFilterStage(UrlFilterStage.Config(block_domains=[parent], allow_domains=[normalise(urls[0])[0]]))
    assert allowed.reason(urls[0]) is None
    target = urls[7]
    p = urlsplit(target)
    variant = f"{p.scheme.upper()}://www.{p.netloc.upper().removeprefix('WWW.')}{p.path}" + (
        f"?{p.query}" if p.query else ""
    )
    listed = tmp_path / "urls.txt"
    listed.write_text(f"# one URL a line\n{target}\n")
    for cfg in (UrlFilterStage.Config(block_urls=[target]), UrlFilterStage.Config(block_urls_file=str(listed))):
        s = UrlFilterStage(cfg)
        assert s.reason(variant) == "url:block_urls" and s.reason(urls[8]) is None


def test_stage_in_a_run_counts_per_list(corpus, tmp_path):
    urls = page_urls(corpus)
    blocked = sorted({normalise(u)[0] for u in urls})[:3]
    word = "nachrichten"  # a whole token of some real URLs of the set
    n_word = sum(word in re.split(r"[^\w]+|_", normalise(u)[1]) for u in urls if normalise(u)[0] not in blocked)
    assert n_word >= 2
    raw = {
        "name": "u",
        "workers": 0,
        "sources": [
            {
                "name": "pages",
                "kind": "web",
                "format": "jsonl",
                "paths": [str(corpus / "web" / "pages.jsonl")],
                "options": {"text_field": "file", "url_field": "url"},
            }
        ],
        "stages": [{"url_filter": {"block_domains": blocked, "banned_words": [word]}}],
    }
    s = Pipeline.from_dict(raw).run(out=tmp_path / "r", log=lambda m: None)["stages"][1]
    n_domain = sum(normalise(u)[0] in blocked for u in urls)
    assert s["reconciles"] and s["in"] == 256
    assert s["dropped"] == {"url:block_domains": n_domain, "url:banned_words": n_word} and n_domain >= 3
    with pytest.raises(RecipeError, match=r"stages\[0\]\.url_filter\.default_lists\[0\]: 'adulte' is not one of"):
        Pipeline.from_dict(dict(raw, stages=[{"url_filter": {"default_lists": ["adulte"]}}]))
