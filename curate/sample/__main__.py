"""CLI: ``python -m curate.sample build --out data/sample [--from DIR] [limits]``."""
from __future__ import annotations

import argparse
import subprocess
import sys

from curate.sample.build import BuildOptions, build, format_summary
from curate.sample.debian import MissingPackage
from curate.sample.web import DEFAULT_HANDBOOK_LANGS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m curate.sample", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build (or copy with --from) the sample corpus")
    b.add_argument("--out", default="data/sample")
    b.add_argument("--from", dest="from_dir", default=None, help="copy a corpus directory laid out the same way")
    b.add_argument("--max-pages", type=int, default=0, help="HTML pages per web package (0: all)")
    b.add_argument("--handbook-langs", default=",".join(DEFAULT_HANDBOOK_LANGS),
                   help="comma-separated debian-handbook languages")
    b.add_argument("--max-wiki-pages", type=int, default=0, help="FOLDOC articles (0: all)")
    b.add_argument("--max-book-bytes", type=int, default=0, help="bytes per book (0: whole)")
    b.add_argument("--max-code-files", type=int, default=0, help="stdlib files (0: all)")
    b.add_argument("--force", action="store_true", help="rebuild even if complete")
    a = ap.parse_args(argv)
    opts = BuildOptions(out=a.out, from_dir=a.from_dir, max_pages=a.max_pages,
                        handbook_langs=[x for x in a.handbook_langs.split(",") if x],
                        max_wiki_pages=a.max_wiki_pages, max_book_bytes=a.max_book_bytes,
                        max_code_files=a.max_code_files, force=a.force)
    try:
        summary = build(opts)
    except (MissingPackage, FileNotFoundError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"sample corpus at {opts.out}")
    print(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
