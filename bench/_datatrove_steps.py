"""The datatrove side of ``bench/steps.py``, run by ``.venv-bench``'s python (never imported by curate).

Datatrove 0.10.1's ``PIIFormatter`` (e-mail and public IPv4 addresses, its defaults) and ``URLFilter`` (its
integrated block lists, shipped inside the package: nothing is downloaded) on the documents and URLs given.
Usage: ``python -P _datatrove_steps.py DOCS_JSONL URLS_JSON ROUNDS``. Prints one JSON object: best seconds over
``ROUNDS`` for each step, per-document counts of replaced e-mails and IPs, per-URL keep decisions.
"""
import json
import sys
import time

from datatrove.data import Document
from datatrove.pipeline.filters import URLFilter
from datatrove.pipeline.formatters import PIIFormatter
from tldextract import TLDExtract


def _best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main(docs_path: str, urls_path: str, rounds: int) -> None:
    texts = [json.loads(line)["text"] for line in open(docs_path, encoding="utf-8")]
    urls = json.load(open(urls_path, encoding="utf-8"))
    pii = PIIFormatter()
    emails, ips = pii.emails_replacer, pii.ip_replacer
    pii_s = _best(lambda: [pii.format(t) for t in texts], rounds)
    counts = [[len(emails.regex.findall(t)),
               sum(1 for m in ips.regex.finditer(t) if ips.validator(m.group(0)))] for t in texts]

    url_filter = URLFilter()
    url_filter.tldextractor = TLDExtract(suffix_list_urls=())  # the bundled public suffix list: no fetch
    docs = [Document(text="", id=str(i), metadata={"url": u}) for i, u in enumerate(urls)]
    url_filter.filter(docs[0])  # unpacks the integrated lists once, outside the timing
    url_s = _best(lambda: [url_filter.filter(d) for d in docs], rounds)
    keep = [url_filter.filter(d) is True for d in docs]
    print(json.dumps({"pii_s": pii_s, "pii_counts": counts, "url_s": url_s, "url_keep": keep}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
