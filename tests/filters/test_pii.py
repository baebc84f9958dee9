"""PII redaction on real text: natural and planted addresses found, and versions, dates, prices and ISBNs
of real wiki, book and web text left alone."""

from __future__ import annotations

import bz2
import json
import re
from pathlib import Path

import pytest

from curate.filters.pii import PiiStage, redactor
from curate.pipeline import Pipeline
from curate.recipe import RecipeError
from curate.schema import docs_table

PLACEHOLDER = re.compile(r"<(EMAIL|IP_ADDRESS|PHONE_NUMBER)>")


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def texts(corpus: Path) -> dict[str, str]:
    """Real text by origin: the wiki dumps' wikitext, books, web main texts and CJK pages."""
    out = {f.name: bz2.open(f, "rt", encoding="utf-8").read() for f in sorted((corpus / "wiki").glob("*.xml.bz2"))}
    out.update(
        {f.name: f.read_text(encoding="utf-8", errors="replace") for f in sorted((corpus / "books").glob("*.txt"))}
    )
    out.update({f"dedup/{d['id']}": d["text"] for d in jsonl(corpus / "dedup" / "docs.jsonl")})
    out.update({f"cjk/{d['id']}": d["text"] for d in jsonl(corpus / "cjk" / "docs.jsonl")})
    return out


@pytest.fixture(scope="module")
def corpus_texts(corpus) -> dict[str, str]:
    return texts(corpus)


def spans(text: str) -> list[tuple[int, int, str]]:
    return sorted(PiiStage().redactor._spans(text))


@pytest.fixture(scope="module")
def corpus_spans(corpus_texts) -> dict[str, list[tuple[int, int, str]]]:
    return {name: spans(text) for name, text in corpus_texts.items()}


def test_natural_addresses_in_books_cjk_and_wiki_are_redacted(corpus_texts):
    r = redactor()
    book = corpus_texts["2701-0.txt"]  # Project Gutenberg's licence: e-mails and a Salt Lake City phone number
    out, counts, removed = r(book)
    assert "@pglaf.org" in book and "@pglaf.org" not in out and "(801) 596-1887" not in out
    assert counts["email"] >= 2 and counts["phone"] >= 1 and removed > 0
    cjk = {k: r(v) for k, v in corpus_texts.items() if k.startswith("cjk/")}
    assert sum(c["phone"] for _, c, _ in cjk.values()) >= 8 and sum(c["email"] for _, c, _ in cjk.values()) >= 10
    assert all("02-2000-2114" not in t and "@mk.co.kr" not in t for t, _, _ in cjk.values())
    ja = corpus_texts["jawiki-20230501-pages-articles-multistream.head.xml.bz2"]  # anonymous editors' addresses
    out, counts, _ = r(ja)
    assert counts["ipv4"] >= 30 and counts["ipv6"] >= 20
    assert not re.search(r"<ip>(?!<IP_ADDRESS>)", out)


def test_planted_addresses_from_the_corpus_are_found_in_other_real_text(corpus_texts, corpus_spans):
    """Addresses that occur in the corpus are moved into wiki articles (damaged real text): each is found,
    and the article outside them is unchanged."""
    found = {"email": set(), "ipv4": set(), "ipv6": set(), "phone": set()}
    for name, text in corpus_texts.items():
        for a, b, kind in corpus_spans[name]:
            found[kind].add(text[a:b])
    planted = [sorted(v)[:6] for v in found.values()]
    assert all(len(p) >= 3 for p in planted)
    articles = [t for k, t in corpus_texts.items() if k.startswith("dedup/d000")][:24]
    r = redactor()
    for i, article in enumerate(articles):
        values = [p[i % len(p)] for p in planted]
        paras = article.split("\n\n")
        base_out, _, _ = r(article)
        damaged = "\n\n".join(paras[:1] + [f"{p} {v}" for p, v in zip(paras[1:], values)] + paras[1 + len(values) :])
        out, counts, _ = r(damaged)
        assert not any(v in out for v in values[: len(paras) - 1]), (values, out[:500])
        assert sum(counts.values()) == len(PLACEHOLDER.findall(base_out)) + min(len(values), len(paras) - 1)


def test_versions_dates_prices_and_isbns_of_real_text_are_not_redacted(corpus_texts, corpus_spans):
    """Precision on ~40 MB of real text: no redacted span is an ISBN, a date, a price or a version number."""
    isbn = re.compile(r"ISBN[-\s:：]*$", re.IGNORECASE)
    date = re.compile(r"(\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})")
    price = re.compile(r"[$€£¥]\s*$")
    version = re.compile(r"(version|release|v)\s*$", re.IGNORECASE)
    total = 0
    for name, text in corpus_texts.items():
        for a, b, kind in corpus_spans[name]:
            total += 1
            s, before = text[a:b], text[max(0, a - 16) : a]
            assert not isbn.search(before), (name, s)
            assert not (kind != "email" and date.fullmatch(s)), (name, s)
            assert not (kind != "email" and price.search(before)), (name, s)
            assert not (kind == "ipv4" and version.search(before)), (name, s)
            # a phone inside a longer run of digit groups (1 073 741 824 bytes, photo ids) is not one
            assert not (kind == "phone" and re.search(r"\d[ .]$", before) or re.match(r"[ .,]\d", text[b : b + 2])), (
                name,
                s,
            )
    assert total > 200
    assert sum(t.count("ISBN") for t in corpus_texts.values()) > 1000  # the ISBNs the check covers


def test_keep_lists_and_placeholders(corpus_texts):
    """Documentation and private addresses and example.com stay; typed placeholders are configurable."""
    article = corpus_texts["dedup/d00001"]
    real_ip = "77.121.29.113"  # an editor's address in the ukwiki dump
    assert real_ip in corpus_texts["ukwiki-20230501-pages-articles-multistream.head.xml.bz2"]
    doc_ip, private_ip = real_ip.replace("77.121.29", "192.0.2"), real_ip.replace("77.121.29", "192.168.29")
    text = f"{article}\n{doc_ip} {private_ip} {real_ip}\nbusiness@example.org business@pglaf.org"
    out, counts, _ = redactor()(text)
    assert doc_ip in out and private_ip in out and real_ip not in out and "business@example.org" in out
    assert counts["ipv4"] == 1 and counts["email"] == 1
    out, counts, _ = redactor(
        keep_networks=["77.121.0.0/16"],
        keep_domains=["pglaf.org", "example.org"],
        placeholders={"email": "[mail]", "ipv4": "[ip]", "ipv6": "[ip]", "phone": "[tel]"},
    )(text)
    assert real_ip in out and "business@pglaf.org" in out and not counts["ipv4"] and not counts["email"]
    out, counts, _ = redactor(only_public_ips=False)(text)
    assert doc_ip not in out and private_ip not in out and counts["ipv4"] == 3


def test_stage_counts_per_type_keeps_every_row_and_config_errors_name_the_key(corpus, corpus_texts):
    docs = [d for d in jsonl(corpus / "cjk" / "docs.jsonl")]
    batch = docs_table(
        {"id": d["id"], "source": "cjk", "kind": "web", "url": d["url"], "text": d["text"], "meta": {}} for d in docs
    )
    r = PiiStage().apply(batch, None)
    assert r.kept.num_rows == batch.num_rows and not r.dropped.num_rows and not r.errors.num_rows
    c = r.counters
    assert c["pii_email"] >= 10 and c["pii_phone"] >= 8 and c["pii_docs"] >= 5 and c["pii_chars"] > 100
    metas = [json.loads(m) for m in r.kept.column("meta").to_pylist()]
    assert sum(m.get("pii", {}).get("email", 0) for m in metas) == c["pii_email"]
    for bad, key in (({"types": ["phon"]}, "types"), ({"keep_networks": ["77.121.0.0/33"]}, "keep_networks")):
        with pytest.raises(RecipeError, match=rf"stages\[0\]\.pii\.{key}:"):
            Pipeline.from_dict(
                {
                    "name": "p",
                    "workers": 0,
                    "sources": [
                        {"name": "d", "kind": "web", "format": "jsonl", "paths": [str(corpus / "cjk" / "docs.jsonl")]}
                    ],
                    "stages": [{"pii": bad}],
                }
            )
