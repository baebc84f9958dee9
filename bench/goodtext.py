"""Known-good text kept: the default ``curate filter`` chain and the quickstart recipe's filter stages on real
text that is good by construction, with the kept share and the false drops per rule.

Corpora (``CURATE_TEST_DATA``): Project Gutenberg books cut into chunks of whole paragraphs with their hard
line wraps (``books``), Wikipedia articles through the project's own wiki reader and wikitext cleaning, per
language (``wiki:en``, ``wiki:de``, ``wiki:uk``, ``wiki:ja``...; the pages the reader leaves under Dolma's
25-word floor are no article text, mostly list pages whose table the reader removes with the page's tables,
and are reported apart as ``wiki-stubs``, expected to drop), and the extracted text of the web pages whose
trafilatura ``expected_with`` snippets are all in it (``web``; ``curate extract`` runs first, once per
``--cache`` folder). ``python -m bench goodtext [--limit=N] [--cache=DIR]``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench._stages import run_stage
from curate.filters.text import words
from curate.schema import docs_table, meta_dicts

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
WIKI_FILES = (
    "wiki-sample-pages-articles.xml.bz2",
    "ukwiki-20230501-pages-articles-multistream.head.xml.bz2",
    "jawiki-20230501-pages-articles-multistream.head.xml.bz2",
)


def corpus_dir() -> Path:
    return Path(os.environ.get("CURATE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "corpus"))


def book_chunks(corpus: Path, chunk_chars: int = 3000, limit: int = 0) -> list[dict]:
    """Each book's body (``BooksReader``) cut into chunks of whole paragraphs of >= ``chunk_chars``
    characters, line wraps kept; the last, shorter piece of a book is a chunk too. ``limit``: per book."""
    from curate.sources.base import Unit
    from curate.sources.books import BooksReader

    reader = BooksReader("books", "books")
    out = []
    for path in sorted((corpus / "books").glob("*.txt")):
        text = reader.read(Unit(str(path))).kept.column("text")[0].as_py()
        chunk: list[str] = []
        size = n = 0
        for para in re.split(r"\n\s*\n", text):
            if not para.strip():
                continue
            chunk.append(para)
            size += len(para)
            if size >= chunk_chars:
                out.append({"id": f"{path.stem}-{n}", "source": "books", "kind": "books", "text": "\n\n".join(chunk)})
                chunk, size, n = [], 0, n + 1
                if limit and n >= limit:
                    break
        if chunk and not (limit and n >= limit):
            out.append({"id": f"{path.stem}-{n}", "source": "books", "kind": "books", "text": "\n\n".join(chunk)})
    return out


STUB_WORDS = 25  # Dolma (Soldaini et al. 2024): Wikipedia pages under 25 words are templated stubs, parse errors


def wiki_articles(corpus: Path, limit: int = 0) -> dict[str, list[dict]]:
    """The reader's kept pages of >= ``STUB_WORDS`` words per language (keys ``:en``, ``:uk``...; the sample
    file's languages from its index), the shorter ones under ``-stubs``."""
    from curate.sources.base import Unit
    from curate.sources.wiki import WikiReader

    index = {}
    for line in (corpus / "wiki" / "wiki-sample-pages.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        index[r["title"]] = r.get("lang") or "en"
    out: dict[str, list[dict]] = defaultdict(list)
    for name in WIKI_FILES:
        kept = WikiReader("wiki", "wiki").read(Unit(str(corpus / "wiki" / name))).kept
        for row, meta in zip(kept.to_pylist(), meta_dicts(kept)):
            lang = index.get(meta["title"], "en") if name.startswith("wiki-sample") else meta["wiki_lang"]
            key = "-stubs" if len(words(row["text"])) < STUB_WORDS else f":{lang}"
            if not limit or len(out[key]) < limit:
                out[key].append(
                    {"id": row["id"], "source": "wiki", "kind": "wiki", "url": row["url"], "text": row["text"]}
                )
    return dict(out)


def web_expected(corpus: Path, cache: Path, limit: int = 0) -> list[dict]:
    """Extracted text (``curate extract`` of ``web/pages.warc.gz``) of the pages whose ``expected_with``
    snippets all occur in it: the article was extracted, so it is known-good text."""
    from curate.cli import main as cli

    out_file = cache / "web_extracted.parquet"
    if not out_file.exists():
        cli(["extract", "--input", str(corpus / "web" / "pages.warc.gz"), "--output", str(out_file)])
    expected = {}
    for line in (corpus / "web" / "pages.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        if r["expected_with"]:
            expected[r["url"]] = r["expected_with"]
    squash = re.compile(r"\s+")
    rows = []
    for r in pq.read_table(out_file).to_pylist():
        snippets = expected.get(r["url"])
        hay = squash.sub("", r["text"] or "")
        if snippets and all(squash.sub("", s) in hay for s in snippets):
            rows.append({k: r[k] for k in ("id", "source", "kind", "url", "text")})
    return rows[:limit] if limit else rows


def web_pages_check(corpus: Path, cache: Path) -> dict[str, Any]:
    """All extracted web pages through the default ``curate filter`` chain: pages dropped (by reason) and, on
    the kept pages, the share of ``expected_with`` snippets found in the extracted and in the cleaned text."""
    web_expected(corpus, cache, limit=1)  # runs the extraction once
    extracted = pq.read_table(cache / "web_extracted.parquet").to_pylist()
    expected = {
        json.loads(x)["url"]: json.loads(x)["expected_with"]
        for x in (corpus / "web" / "pages.jsonl").open(encoding="utf-8")
    }
    rows = [{k: r[k] for k in ("id", "source", "kind", "url", "text")} for r in extracted]
    table: pa.Table = docs_table(rows)
    reasons: Counter = Counter()
    work = cache / "web_pages_check"
    work.mkdir(exist_ok=True)
    for name, cfg in filter_specs(None):
        res = run_stage(name, cfg, table, work)
        reasons.update(res.dropped.column("reason").to_pylist() + res.errors.column("reason").to_pylist())
        table = res.kept
    before = {r["id"]: r["text"] or "" for r in rows}
    found = [0, 0, 0]
    for did, url, text in zip(table["id"].to_pylist(), table["url"].to_pylist(), table["text"].to_pylist()):
        for snippet in expected.get(url, []):
            found[0] += 1
            found[1] += snippet in before[did]
            found[2] += snippet in text
    return {
        "pages": len(rows),
        "dropped": sum(reasons.values()),
        "reasons": dict(reasons.most_common()),
        "snippets": found[0],
        "in_extracted": round(found[1] / max(1, found[0]), 4),
        "in_cleaned": round(found[2] / max(1, found[0]), 4),
    }


def filter_specs(recipe: str | None) -> list[tuple[str, dict]]:
    """The filter stages of ``curate filter`` (None) or of a bundled recipe, in order."""
    from curate.standalone import filter_specs as recipe_filter_specs

    specs, _seed = recipe_filter_specs(RECIPES / f"{recipe}.yaml" if recipe else None)
    return [(name, cfg) for name, cfg, _only in specs]


def run_chain(rows: list[dict], specs: list[tuple[str, dict]], workdir: Path) -> tuple[int, Counter, dict]:
    """(kept, drop reasons, one dropped id per reason) of the stages run in order on ``rows`` in one
    process, each stage's fit pass on the rows it sees (as ``curate filter`` runs them)."""
    table: pa.Table = docs_table(rows)
    reasons: Counter = Counter()
    example: dict[str, str] = {}
    for name, cfg in specs:
        res = run_stage(name, cfg, table, workdir)
        for t in (res.dropped, res.errors):
            for did, reason in zip(t.column("id").to_pylist(), t.column("reason").to_pylist()):
                reasons[reason] += 1
                example.setdefault(reason, did)
        table = res.kept
    return table.num_rows, reasons, example


def measure(
    limit: int = 0, cache: Path | None = None, web: bool = True, chains: tuple[str | None, ...] = (None, "quickstart")
) -> dict[str, dict[str, Any]]:
    """Per corpus and chain: documents, kept, kept share and drop reasons."""
    corpus = corpus_dir()
    sets: dict[str, list[dict]] = {"books": book_chunks(corpus, limit=limit)}
    sets.update({f"wiki{key}": docs for key, docs in sorted(wiki_articles(corpus, limit=limit).items())})
    with tempfile.TemporaryDirectory() as d:
        if web:
            sets["web"] = web_expected(corpus, Path(cache) if cache else Path(d), limit=limit)
        out = {}
        for chain in chains:
            specs = filter_specs(chain)
            for name, rows in sets.items():
                work = Path(d) / f"{chain}-{name}".replace(":", "_")
                work.mkdir()
                kept, reasons, example = run_chain(rows, specs, work)
                out[f"{chain or 'filter'} {name}"] = {
                    "docs": len(rows),
                    "kept": kept,
                    "share": round(kept / max(1, len(rows)), 4),
                    "drops": dict(reasons.most_common()),
                    "example": example,
                }
    return out


def main(argv: list[str]) -> None:
    limit = int(next((a.split("=", 1)[1] for a in argv if a.startswith("--limit=")), "0"))
    cache = next((Path(a.split("=", 1)[1]) for a in argv if a.startswith("--cache=")), None)
    with tempfile.TemporaryDirectory() as d:
        cache = cache or Path(d)
        cache.mkdir(parents=True, exist_ok=True)
        res = measure(limit, cache)
        w = web_pages_check(corpus_dir(), cache)
    print(f"{'chain corpus':24} {'docs':>6} {'kept':>6} {'share':>6}  false drops per rule")
    for key, r in res.items():
        drops = ", ".join(f"{k} {v}" for k, v in r["drops"].items()) or "-"
        print(f"{key:24} {r['docs']:>6} {r['kept']:>6} {r['share']:>6.3f}  {drops}")
    print(
        f"web pages after extract + filter: {w['dropped']} of {w['pages']} dropped "
        f"({', '.join(f'{k} {v}' for k, v in w['reasons'].items())}); expected_with snippets on the kept "
        f"pages: {w['in_extracted']:.3f} in the extracted text, {w['in_cleaned']:.3f} after cleaning"
    )
    if "--json" in argv:
        print(json.dumps({"corpora": res, "web_pages": w}, ensure_ascii=False, indent=1))
