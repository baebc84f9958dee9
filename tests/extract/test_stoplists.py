"""trafilatura's justext rescue with compact stop words (``curate.extract.stoplists``): the same words, the
same answers for any string, and the same text from the real pages that take the rescue as upstream's."""

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
    engines.use_compact_stop_words = lambda: False
rescued, rescue = [], te.try_justext
def counted(tree, url, lang):
    rescued.append(url)
    return rescue(tree, url, lang)
te.try_justext = counted
batch = WarcReader("web", "web").read(Unit(sys.argv[1])).kept
texts = [engines.extract_trafilatura(h, u)[0] for h, u in zip(batch.column("text").to_pylist(), batch.column("url").to_pylist())]
print(json.dumps({"texts": texts, "rescued": len(rescued)}))
"""


def _upstream_words() -> frozenset[str]:
    """trafilatura's tuple of every list's words, then justext's lower-cased frozenset of it."""
    from justext.utils import get_stoplist, get_stoplists

    return frozenset(w.lower() for w in tuple({w for lang in get_stoplists() for w in get_stoplist(lang)}))


def test_justext_gets_the_compact_words_and_they_are_upstreams_words():
    import justext.core
    import trafilatura.external
    from justext.utils import get_stoplist

    from curate.extract.stoplists import StopWords, use_compact_stop_words

    assert use_compact_stop_words()  # the pinned trafilatura and justext have what it replaces
    words = trafilatura.external.jt_stoplist_init()
    assert isinstance(words, StopWords) and trafilatura.external.JT_STOPLIST is words
    assert justext.core.define_stoplist(words) is words  # justext's lower-casing pass: the words are lower already
    upstream = _upstream_words()
    assert len(words) == len(upstream) > 100_000 and set(words) == upstream
    assert all(w in words for w in upstream)
    # near misses of real stop words: upper case (justext lower-cases before asking), one letter more or less
    for w in sorted(upstream)[::997]:
        assert (w.upper() in words) == (w.upper() in upstream)
        assert (w + "q" in words) == (w + "q" in upstream) and (w[:-1] in words) == (w[:-1] in upstream)
    english = get_stoplist("English")  # any other stop list is justext's own
    assert justext.core.define_stoplist(english) == frozenset(w.lower() for w in english)


def test_stop_words_answer_exactly_for_hostile_strings():
    from curate.extract.stoplists import StopWords

    words = StopWords([b"and", b"\xc3\xa9t\xc3\xa9", b"x", "\u6211\u4eec".encode()])
    assert "and" in words and "\u00e9t\u00e9" in words and "\u6211\u4eec" in words and len(words) == 4
    assert "" not in words  # an empty bucket is no empty word
    assert "and\nx" not in words and "\nand" not in words  # a line break could join two stored words
    assert "an" not in words and "nd" not in words and "andx" not in words
    assert "\ud800" not in words and "and\udcff" not in words  # lone surrogates: no error, no match
    assert 1 not in words and b"and" not in words and None not in words
    assert "" in StopWords([b""]) and sorted(StopWords([b"b", b"a", b"a"])) == ["a", "b"]


def test_stop_words_are_packed():
    from justext.utils import get_stoplists

    from curate.extract.stoplists import justext_stop_words

    words = justext_stop_words(sorted(get_stoplists()))
    # the words' UTF-8 and a separator each, and 4 bytes per bucket: no object per word
    assert len(words._blob) < 2.5e6 and len(words._starts) * 4 < 0.2e6


def test_extracted_text_is_unchanged_on_pages_that_need_the_justext_rescue(corpus: Path):
    runs = {}
    for mode in ("upstream", "compact"):
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
    assert runs["compact"]["rescued"] == runs["upstream"]["rescued"] >= 10
    assert runs["compact"]["texts"] == runs["upstream"]["texts"]


def test_a_second_initialisation_builds_anew_without_wrapping_justext_twice():
    import justext.core
    import trafilatura.external

    from curate.extract.stoplists import use_compact_stop_words

    assert use_compact_stop_words() and use_compact_stop_words()
    define = justext.core.define_stoplist
    first = trafilatura.external.jt_stoplist_init()
    second = trafilatura.external.jt_stoplist_init()
    assert second is not first and trafilatura.external.JT_STOPLIST is second
    assert justext.core.define_stoplist is define  # installed once per process
    held = [c.cell_contents for c in define.__closure__]
    assert len(held) == 1 and hasattr(held[0], "cache_info")  # justext's own (cached) function underneath


def test_stop_list_lines_are_split_and_lower_cased_as_bytes_splitlines_and_per_line_lower_do():
    from curate.extract.stoplists import lower_lines

    cases = [
        b"",
        b"\n",
        b"\r",
        b"\r\n",
        b"a",
        b"a\n",
        b"A\r\nB\rC\n\nD",
        b"x\r\r\ny\n\r",
        "\u039f\u0394\u039f\u03a3\n\u03a3\n\u03a3\u0391".encode(),  # final sigma: per word and per line alike
        "\u0130STANBUL\nSTRASSE \u1e9e\nNo\u00ebl\u2028X\x0cY\x1cZ\x85W".encode(),  # str.splitlines would split more
    ]
    for data in cases:
        assert lower_lines(data) == [w.decode("utf8").lower().encode() for w in data.splitlines()], data
