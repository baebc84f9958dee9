"""trafilatura's justext rescue with one shared copy of the stop words (``curate.extract.stoplists``): the same
words, and the same text from the real pages that take the rescue as with trafilatura's own two copies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests import REPO

_EXTRACT = """
import json, sys
import trafilatura.external as te
import curate.extract.engines as engines
from curate.sources.base import Unit
from curate.sources.warc import WarcReader

if sys.argv[2] == "upstream":
    engines.share_stop_words = lambda: False
rescued, rescue = [], te.try_justext
def counted(tree, url, lang):
    rescued.append(url)
    return rescue(tree, url, lang)
te.try_justext = counted
batch = WarcReader("web", "web").read(Unit(sys.argv[1])).kept
texts = [engines.extract_trafilatura(h, u)[0] for h, u in zip(batch.column("text").to_pylist(), batch.column("url").to_pylist())]
print(json.dumps({"texts": texts, "rescued": len(rescued)}))
"""


def test_trafilatura_and_justext_use_one_copy_of_the_same_stop_words():
    import justext.core
    import trafilatura.external
    from justext.utils import get_stoplist, get_stoplists

    from curate.extract.stoplists import share_stop_words

    assert share_stop_words()  # the pinned trafilatura and justext have what it replaces
    stoplist = trafilatura.external.jt_stoplist_init()
    words = justext.core.define_stoplist(stoplist)
    # trafilatura's tuple, then justext's lower-cased frozenset of it, as both libraries build them
    upstream = frozenset(w.lower() for w in tuple({w for lang in get_stoplists() for w in get_stoplist(lang)}))
    assert words == upstream and len(words) > 100_000
    assert trafilatura.external.JT_STOPLIST is stoplist and justext.core.define_stoplist(stoplist) is words
    assert {id(w) for w in stoplist} == {id(w) for w in words}  # one copy of each string
    english = get_stoplist("English")  # any other stop list is justext's own
    assert justext.core.define_stoplist(english) == frozenset(w.lower() for w in english)


def test_extracted_text_is_unchanged_on_pages_that_need_the_justext_rescue(corpus: Path):
    runs = {}
    for mode in ("upstream", "shared"):
        proc = subprocess.run(
            [sys.executable, "-c", _EXTRACT, str(corpus / "web" / "pages.warc.gz"), mode],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    # the trafilatura engine on the 256 pages: 16 take the rescue (the fast engine's fallback: 1)
    assert runs["shared"]["rescued"] == runs["upstream"]["rescued"] >= 10
    assert runs["shared"]["texts"] == runs["upstream"]["texts"]


def test_a_second_initialisation_replaces_the_first():
    import justext.core
    import trafilatura.external

    from curate.extract.stoplists import share_stop_words

    assert share_stop_words()
    first = trafilatura.external.jt_stoplist_init()
    second = trafilatura.external.jt_stoplist_init()
    assert justext.core.define_stoplist(second) is justext.core.define_stoplist(second)
    # the answering function wraps justext's own (cached) function, not the first answering one: the first
    # set is not kept alive beside the second
    held = [c.cell_contents for c in justext.core.define_stoplist.__closure__]
    assert any(h is second for h in held) and not any(h is first for h in held)
    assert any(hasattr(h, "cache_info") for h in held)
