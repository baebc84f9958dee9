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
from curate.sample_options import add_build_args


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
