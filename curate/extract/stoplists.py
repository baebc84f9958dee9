"""justext's stop words for trafilatura's justext rescue in one 2.2 MB bytes object, not 35 MB of str objects.

When trafilatura (2.3.1) rescues a page with justext and no language is given, it uses every language's stop
words at once: a tuple of the 154,484 words of justext's 100 lists (``JT_STOPLIST``, built by
``jt_stoplist_init``), which justext's ``classify_paragraphs`` turns into a frozenset of lower-cased copies
(``justext.core.define_stoplist``). Both live as long as the process: 14.5 + 20.2 MB of PSS in every worker
that met such a page, measured; one shared copy of the strings was still 19 MB. justext only asks whether a
lower-cased word is a stop word (``Paragraph.stopwords_count``), so ``StopWords`` answers that from the same
words packed into one bytes object: 6.5 MB of PSS in a worker, measured (the rest is what building it
leaves in the allocators). ``use_compact_stop_words`` makes trafilatura build a ``StopWords`` and
justext answer it for itself: the same answers (tests/extract/test_stoplists.py checks every word of the
reference set, and the rescued pages' text), built once per process, when trafilatura first asks. Should
either library rename what is replaced here, nothing is replaced: upstream's two copies come back, and the
test says so.
"""

from __future__ import annotations

import functools
import pkgutil
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator

WORDS_PER_BUCKET = 8  # about 100 bytes searched per lookup


class StopWords:
    """An exact, read-only set of words in one bytes object: the words' UTF-8, grouped by CRC-32 into
    buckets ("\\nword\\nword\\n"), found by a substring search of their bucket (about 0.8 us a lookup, a
    frozenset's 0.2; 16 bytes a word against a frozenset's ~120)."""

    __slots__ = ("_blob", "_starts", "_mask", "_count")

    def __init__(self, words: Iterable[bytes]):
        unique = set(words)
        if any(b"\n" in w for w in unique):
            raise ValueError("a stop word holds a line break")
        buckets: int = 1
        while buckets * WORDS_PER_BUCKET < len(unique):
            buckets *= 2
        grouped: list[list[bytes]] = [[] for _ in range(buckets)]
        for w in unique:
            grouped[zlib.crc32(w) & (buckets - 1)].append(w)
        chunks = [b"\n" + b"\n".join(sorted(g)) + b"\n" if g else b"" for g in grouped]  # sorted: same bytes
        starts, end = array("I", [0]), 0
        for chunk in chunks:
            end += len(chunk)
            starts.append(end)
        self._blob, self._starts, self._mask, self._count = b"".join(chunks), starts, buckets - 1, len(unique)

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        key = word.encode("utf-8", "surrogatepass")  # a lone surrogate matches no stored (valid UTF-8) word
        if b"\n" in key:
            return False
        i = zlib.crc32(key) & self._mask
        return self._blob.find(b"\n" + key + b"\n", self._starts[i], self._starts[i + 1]) >= 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self._starts) - 1):
            chunk = self._blob[self._starts[i] : self._starts[i + 1]]
            if chunk:
                yield from (w.decode("utf-8", "surrogatepass") for w in chunk[1:-1].split(b"\n"))


def justext_stop_words(languages: Iterable[str]) -> StopWords:
    """The lower-cased words of justext's stop lists for ``languages``: what ``define_stoplist`` makes of
    ``get_stoplist`` (each line of the file, decoded and lower-cased), read without a str per word."""
    words: list[bytes] = []
    for language in languages:
        words.extend(lower_lines(pkgutil.get_data("justext", f"stoplists/{language}.txt") or b""))
    return StopWords(words)


def lower_lines(data: bytes) -> list[bytes]:
    """``[line.decode("utf8").lower().encode() for line in data.splitlines()]``, decoded and lower-cased as
    one text (Python's only context-dependent lower-casing, the final sigma, stops at a line break)."""
    if not data:
        return []
    text = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # the line breaks of bytes.splitlines
    lines = text.decode("utf8").lower().encode("utf-8", "surrogatepass").split(b"\n")
    if text.endswith(b"\n"):  # a final line break ends the last line; it starts none
        lines.pop()
    return lines


@functools.lru_cache(maxsize=1)
def use_compact_stop_words() -> bool:
    """Make trafilatura's justext rescue use a ``StopWords`` (once per process); False where the libraries
    lack the names used."""
    try:
        import justext.core as justext_core
        import trafilatura.external as trafilatura_external
        from justext.utils import get_stoplists
    except ImportError:
        return False
    if not all(hasattr(trafilatura_external, n) for n in ("JT_STOPLIST", "jt_stoplist_init")):
        return False
    if not hasattr(justext_core, "define_stoplist"):
        return False

    def jt_stoplist_init() -> StopWords:
        trafilatura_external.JT_STOPLIST = justext_stop_words(sorted(get_stoplists()))
        return trafilatura_external.JT_STOPLIST

    justext_core.define_stoplist = _answering_itself(justext_core.define_stoplist)
    trafilatura_external.jt_stoplist_init = jt_stoplist_init
    return True


def _answering_itself(define: Callable[[object], frozenset[str]]) -> Callable[[object], object]:
    """justext's ``define_stoplist``, except that a ``StopWords`` (lower-cased already) is its own answer."""

    def define_stoplist(given: object) -> object:
        return given if isinstance(given, StopWords) else define(given)

    return define_stoplist
