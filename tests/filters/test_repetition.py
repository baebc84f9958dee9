"""filters.repetition's integer-id n-gram measures equal Gopher's string formulas exactly on real text."""

import json
from collections import Counter

from curate.filters.repetition import NGrams
from curate.filters.text import words
from tests.support.filter_texts import dedup_docs


def reference_top_chars(ws: list[str], n: int) -> int:
    """Gopher's top n-gram characters as datatrove writes it: the most common joined n-gram times its count."""
    grams = Counter(" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1))
    if not grams:
        return 0
    gram, count = grams.most_common(1)[0]
    return len(gram) * count


def reference_dup_chars(ws: list[str], n: int) -> int:
    """Gopher's duplicated n-gram characters: n-grams repeating an earlier one, skipping over each repeat."""
    seen: set[tuple[str, ...]] = set()
    chars, i = 0, 0
    while i < len(ws) - n + 1:
        gram = tuple(ws[i : i + n])
        if gram in seen:
            chars += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return chars


def _texts(corpus) -> list[str]:
    """Real web, wiki and books documents, CJK web pages, a whole book, and damaged copies with repeats."""
    texts = [d["text"] for d in dedup_docs(corpus)]
    texts += [json.loads(line)["text"] for line in (corpus / "cjk" / "docs.jsonl").open(encoding="utf-8")]
    book = (corpus / "books" / "11-0.txt").read_text(encoding="utf-8-sig")
    texts.append(book)
    paras = book.split("\n\n")
    texts.append("\n\n".join(paras[40:60] * 3))  # a run of paragraphs repeated: overlapping long repeats
    texts.append("\n".join(line for line in book.splitlines()[500:700] for _ in range(2)))  # each line twice
    ws = words(texts[0])
    texts.append(" ".join(ws[:7] * 40 + ws[:3]))  # a short phrase repeated: repeats inside skipped spans
    texts += ["", " ".join(ws[:1]), " ".join(ws[:4])]
    return texts


def test_ngram_measures_equal_gopher_formulas_on_real_text(corpus):
    texts = _texts(corpus)
    hits = 0
    for text in texts:
        ws = words(text)
        grams = NGrams(ws)
        for n in range(1, 21):  # 2..10 words, doubled for mostly-CJK text
            assert grams.top_chars(n) == reference_top_chars(ws, n), (text[:60], n)
            dup = grams.dup_chars(n)
            assert dup == reference_dup_chars(ws, n), (text[:60], n)
            hits += dup > 0
    assert len(texts) > 300 and hits > 100  # the comparison saw many real repeats, not only unique text
