"""The datatrove side of ``bench/steps.py``, run by ``.venv-bench``'s python (never imported by curate).

Datatrove 0.10.1's ``PIIFormatter`` (e-mail and public IPv4 addresses, its defaults), ``URLFilter`` (its
integrated block lists, shipped inside the package: nothing is downloaded) and ``NGramsDecontFilter`` (13-grams;
its index is written here from the evaluation texts given, with datatrove's own tokenizer, normalisation and
hash, as its indexer does for lighteval tasks, which it would fetch from a hub) on the documents and URLs given.
Usage: ``python -P _datatrove_steps.py DOCS_JSONL URLS_JSON EVAL_JSONL ROUNDS``. Prints one JSON object: best
seconds over ``ROUNDS`` for each step, per-document counts of replaced e-mails and IPs, per-URL keep decisions,
per-document contamination decisions.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.decont.n_grams import NGramsDecontConfig, NGramsDecontFilter
from datatrove.pipeline.filters import URLFilter
from datatrove.pipeline.formatters import PIIFormatter
from datatrove.utils.hashing import create_hash_func
from datatrove.utils.text import ngrams, simplify_text
from datatrove.utils.typeshelper import Languages
from datatrove.utils.word_tokenizers import load_word_tokenizer
from tldextract import TLDExtract


def _best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def _decont(texts: list[str], eval_texts: list[str], rounds: int) -> tuple[float, list[bool]]:
    config = NGramsDecontConfig(n_grams=13)
    tokenizer, digest = load_word_tokenizer(Languages.english), create_hash_func(config.hash_config)
    hashes = {
        digest(" ".join(g))
        for t in eval_texts
        for g in ngrams(tokenizer.word_tokenize(simplify_text(t, config.norm_config)), config.n_grams)
    }
    with tempfile.TemporaryDirectory() as d:
        np.array(sorted(hashes), dtype=config.hash_config.np_descr).tofile(Path(d) / "eval.index.hashes")
        decont = NGramsDecontFilter(d, config=config)
        decont.filter(Document(text="", id="warm-up"))  # loads the index once, outside the timing
        seconds = _best(lambda: [decont.filter(Document(text=t, id=str(i))) for i, t in enumerate(texts)], rounds)
        return seconds, [decont.filter(Document(text=t, id=str(i))) is not True for i, t in enumerate(texts)]


def main(docs_path: str, urls_path: str, eval_path: str, rounds: int) -> None:
    texts = [json.loads(line)["text"] for line in open(docs_path, encoding="utf-8")]
    urls = json.load(open(urls_path, encoding="utf-8"))
    pii = PIIFormatter()
    emails, ips = pii.emails_replacer, pii.ip_replacer
    pii_s = _best(lambda: [pii.format(t) for t in texts], rounds)
    counts = [
        [len(emails.regex.findall(t)), sum(1 for m in ips.regex.finditer(t) if ips.validator(m.group(0)))]
        for t in texts
    ]

    url_filter = URLFilter()
    url_filter.tldextractor = TLDExtract(suffix_list_urls=())  # the bundled public suffix list: no fetch
    docs = [Document(text="", id=str(i), metadata={"url": u}) for i, u in enumerate(urls)]
    url_filter.filter(docs[0])  # unpacks the integrated lists once, outside the timing
    url_s = _best(lambda: [url_filter.filter(d) for d in docs], rounds)
    keep = [url_filter.filter(d) is True for d in docs]
    eval_texts = [json.loads(line)["text"] for line in open(eval_path, encoding="utf-8")]
    dc_s, contaminated = _decont(texts, eval_texts, rounds)
    print(
        json.dumps(
            {
                "pii_s": pii_s,
                "pii_counts": counts,
                "url_s": url_s,
                "url_keep": keep,
                "dc_s": dc_s,
                "dc_contaminated": contaminated,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
