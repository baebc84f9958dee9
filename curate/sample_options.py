"""The options of ``curate sample``, kept outside ``curate.sample`` (whose package imports its builder) so that
every command parses its arguments without importing the builder (warcio, pyarrow: 0.15 s a run)."""

from __future__ import annotations

import argparse

# en-US, four more European languages, CJK, right-to-left, and da-DK, an untranslated English
# fallback (127/127 pages detected as English): a natural near-duplicate set.
DEFAULT_HANDBOOK_LANGS = ("en-US", "de-DE", "fr-FR", "es-ES", "ru-RU", "ja-JP", "zh-CN", "ko-KR", "ar-MA", "da-DK")


def add_build_args(b: argparse.ArgumentParser) -> None:
    """The options of a sample build (``curate sample`` and ``python -m curate.sample build``)."""
    b.add_argument(
        "--output",
        "--out",
        dest="out",
        default=None,
        help="where to build it (default: $CURATE_DATA, else ~/.local/share/curate/sample: where the "
        "shipped recipes look)",
    )
    b.add_argument("--from", dest="from_dir", default=None, help="copy a corpus directory laid out the same way")
    b.add_argument("--max-pages", type=int, default=0, help="HTML pages per web package (0: all)")
    b.add_argument(
        "--handbook-langs", default=",".join(DEFAULT_HANDBOOK_LANGS), help="comma-separated debian-handbook languages"
    )
    b.add_argument("--max-wiki-pages", type=int, default=0, help="FOLDOC articles (0: all)")
    b.add_argument("--max-book-bytes", type=int, default=0, help="bytes per book (0: whole)")
    b.add_argument("--max-code-files", type=int, default=0, help="stdlib files (0: all)")
    b.add_argument("--force", action="store_true", help="rebuild even if complete")
