"""Build (or copy) the sample corpus atomically and idempotently, and summarise it."""

from __future__ import annotations

import bz2
import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from curate.sample import books, code, web, wiki
from curate.sample.debian import changelog_date, read_dictd, require
from curate.sample_options import DEFAULT_HANDBOOK_LANGS

BUILDER_VERSION = "1"
KINDS = ("web", "wiki", "books", "code")
PATTERNS = {"web": "*.warc.gz", "wiki": "*.xml.bz2", "books": "*.txt"}
FOLDOC_INDEX, FOLDOC_DATA = "/usr/share/dictd/foldoc.index", "/usr/share/dictd/foldoc.dict.dz"


@dataclass
class BuildOptions:
    out: str = "data/sample"
    from_dir: str | None = None  # copy this corpus directory (same layout) instead of building
    max_pages: int = 0  # per web package (python3.11-doc, debian-handbook); 0 = all
    handbook_langs: list[str] = field(default_factory=lambda: list(DEFAULT_HANDBOOK_LANGS))
    max_wiki_pages: int = 0  # FOLDOC articles; 0 = all
    max_book_bytes: int = 0  # per book; 0 = whole book
    max_code_files: int = 0  # stdlib files; 0 = all
    force: bool = False


def _stamp(opts: BuildOptions) -> dict:
    d = asdict(opts)
    d.pop("force")
    d.pop("out")
    return {"builder_version": BUILDER_VERSION, "options": d}


def is_complete(out: Path, opts: BuildOptions) -> bool:
    marker = out / ".complete"
    try:
        return json.loads(marker.read_text()) == _stamp(opts)
    except (OSError, ValueError):
        return False


def build_web(out: Path, opts: BuildOptions) -> None:
    require("python3.11-doc")
    require("debian-handbook")
    n = opts.max_pages or None
    pages = web.pydoc_pages()[:n] + web.handbook_pages(opts.handbook_langs)[:n]
    dates = {p: changelog_date(p) for p in ("python3.11-doc", "debian-handbook")}
    info = {
        "software": f"curate.sample/{BUILDER_VERSION} (warcio)",
        "format": "WARC File Format 1.0",
        "description": "HTML pages of the Debian packages python3.11-doc and debian-handbook, "
        "as HTTP 200 responses at their public URLs; WARC-Date = package changelog date",
    }
    web.write_warc(out / "debian-docs.warc.gz", pages, dates, info)


def build_wiki(out: Path, opts: BuildOptions) -> None:
    require("dict-foldoc")
    entries = read_dictd(FOLDOC_INDEX, FOLDOC_DATA)
    pages = wiki.foldoc_pages(entries, changelog_date("dict-foldoc"), opts.max_wiki_pages)
    wiki.write_export(out / "foldoc-pages-articles.xml.bz2", pages, f"curate.sample/{BUILDER_VERSION}")


def copy_from(src: Path, tmp: Path, opts: BuildOptions) -> None:
    """Copy ``src``'s web/wiki/books files; its ``code/`` repos, or the local stdlib when it has none."""
    if not src.is_dir():
        raise FileNotFoundError(f"--from {src}: not a directory")
    for kind, pattern in PATTERNS.items():
        for f in sorted((src / kind).glob(pattern)):
            shutil.copyfile(f, tmp / kind / f.name)
    repos = sorted(d for d in (src / "code").glob("*") if d.is_dir()) if (src / "code").is_dir() else []
    for d in repos:
        shutil.copytree(d, tmp / "code" / d.name, symlinks=False)
    if not repos:
        code.copy_stdlib(tmp / "code" / "cpython", max_files=opts.max_code_files)


def summarize(out: Path) -> dict[str, dict[str, int]]:
    """Files, documents and bytes per kind, counted from what is on disk."""
    s = {}
    for kind in KINDS:
        files = sorted(p for p in (out / kind).rglob("*") if p.is_file()) if (out / kind).is_dir() else []
        docs = 0
        for f in files:
            if kind == "web" and f.name.endswith(".warc.gz"):
                with open(f, "rb") as fh:
                    docs += sum(1 for r in ArchiveIterator(fh) if r.rec_type == "response")
            elif kind == "wiki" and f.name.endswith(".xml.bz2"):
                with bz2.open(f, "rt", encoding="utf-8") as fh:
                    docs += sum(line.count("<page>") for line in fh)
            elif kind in ("books", "code"):
                docs += 1
        s[kind] = {"files": len(files), "docs": docs, "bytes": sum(f.stat().st_size for f in files)}
    return s


def _manifest(out: Path) -> list[dict]:
    rows = []
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        rows.append(
            {
                "path": f.relative_to(out).as_posix(),
                "bytes": f.stat().st_size,
                "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
            }
        )
    return rows


def format_summary(s: dict[str, dict[str, int]]) -> str:
    lines = [f"{'kind':<6} {'files':>7} {'docs':>8} {'bytes':>13}"]
    for kind, r in s.items():
        lines.append(f"{kind:<6} {r['files']:>7,} {r['docs']:>8,} {r['bytes']:>13,}")
    tot = {k: sum(r[k] for r in s.values()) for k in ("files", "docs", "bytes")}
    lines.append(f"{'total':<6} {tot['files']:>7,} {tot['docs']:>8,} {tot['bytes']:>13,}")
    return "\n".join(lines)


def build(opts: BuildOptions) -> dict[str, dict[str, int]]:
    """Build ``opts.out`` (skipped when its ``.complete`` matches this version and options); return the summary.

    Everything is written to ``<out>.tmp`` first and renamed into place; ``.complete`` is written last.
    """
    out = Path(opts.out)
    if not opts.force and is_complete(out, opts):
        return summarize(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for kind in KINDS:
            (tmp / kind).mkdir(parents=True)
        if opts.from_dir:
            copy_from(Path(opts.from_dir), tmp, opts)
        else:
            build_web(tmp / "web", opts)
            build_wiki(tmp / "wiki", opts)
            books.write_books(tmp / "books", opts.max_book_bytes)
            code.copy_stdlib(tmp / "code" / "cpython", max_files=opts.max_code_files)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a failed build leaves the previous sample untouched
        raise
    summary = summarize(tmp)
    (tmp / "MANIFEST.json").write_text(
        json.dumps({**_stamp(opts), "summary": summary, "files": _manifest(tmp)}, indent=1, sort_keys=True) + "\n"
    )
    (tmp / ".complete").write_text(json.dumps(_stamp(opts), sort_keys=True))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return summary
