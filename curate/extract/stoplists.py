"""One copy of justext's stop words in a process that runs trafilatura's justext rescue, not two.

When trafilatura (2.3.1) rescues a page with justext and no language is given, it uses every language's stop
words at once: it builds a tuple of the 154,000 words of justext's 100 lists (``JT_STOPLIST``, by
``jt_stoplist_init``), and justext's ``classify_paragraphs`` turns that tuple into a frozenset of lower-cased
copies (``justext.core.define_stoplist``, cached). Both live as long as the process: 14.5 + 20.2 MB of PSS in
every worker that met such a page, measured. ``share_stop_words`` replaces trafilatura's initialiser with one
that builds that same frozenset directly and makes justext answer it for trafilatura's tuple, which holds the
frozenset's own strings: one copy (tests/extract/test_stoplists.py checks the set is the same and shared).
Nothing is built before trafilatura asks for it, as before. Should either library rename what is replaced
here, nothing is replaced: the two copies come back, and the test says so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable


@functools.lru_cache(maxsize=1)
def share_stop_words() -> bool:
    """Install the shared stop words (once per process); False where the libraries lack the names used."""
    try:
        import justext.core as justext_core
        import trafilatura.external as trafilatura_external
        from justext.utils import get_stoplist, get_stoplists
    except ImportError:
        return False
    if not all(hasattr(trafilatura_external, n) for n in ("JT_STOPLIST", "jt_stoplist_init")):
        return False
    if not hasattr(justext_core, "define_stoplist"):
        return False
    define = justext_core.define_stoplist  # justext's own, for every other stop list

    def jt_stoplist_init() -> tuple[str, ...]:
        # what justext's define_stoplist makes of trafilatura's tuple: the lower-cased words
        words = frozenset(w.lower() for language in get_stoplists() for w in get_stoplist(language))
        stoplist = tuple(words)  # trafilatura's key for them, made of the same strings
        justext_core.define_stoplist = _answering(stoplist, words, define)  # a second call replaces the first
        trafilatura_external.JT_STOPLIST = stoplist
        return stoplist

    trafilatura_external.jt_stoplist_init = jt_stoplist_init
    return True


def _answering(
    stoplist: tuple[str, ...], words: frozenset[str], define: Callable[[object], frozenset[str]]
) -> Callable[[object], frozenset[str]]:
    """justext's ``define_stoplist``, except that ``stoplist`` gives ``words`` (built already)."""

    def define_stoplist(given: object) -> frozenset[str]:
        return words if given is stoplist else define(given)

    return define_stoplist
