"""CLI: ``python -m curate.sample build [--out DIR] [--from DIR] [limits]``, also ``curate sample [...]``.

The default ``--out`` is where the shipped recipes look: ``$CURATE_DATA`` when set, else
``curate.io.sample_dir()`` (``~/.local/share/curate/sample``)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from curate.io import sample_dir
from curate.sample.build import BuildOptions, build, format_summary
from curate.sample.debian import MissingPackage
from curate.sample.web import DEFAULT_HANDBOOK_LANGS


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


def run_build(a: argparse.Namespace) -> int:
    out = a.out or os.environ.get("CURATE_DATA") or str(sample_dir())
    opts = BuildOptions(
        out=out,
        from_dir=a.from_dir,
        max_pages=a.max_pages,
        handbook_langs=[x for x in a.handbook_langs.split(",") if x],
        max_wiki_pages=a.max_wiki_pages,
        max_book_bytes=a.max_book_bytes,
        max_code_files=a.max_code_files,
        force=a.force,
    )
    try:
        summary = build(opts)
    except (MissingPackage, FileNotFoundError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"sample corpus at {opts.out}")
    print(format_summary(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m curate.sample", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    add_build_args(sub.add_parser("build", help="build (or copy with --from) the sample corpus"))
    return run_build(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
