"""Locating the Debian package files the sample is built from, and reading dictd databases."""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

# Debian packages the sample needs, and one file that proves each is installed.
PACKAGES: dict[str, str] = {
    "python3.11-doc": "/usr/share/doc/python3.11/html/index.html",
    "debian-handbook": "/usr/share/doc/debian-handbook/html/en-US/index.html",
    "dict-foldoc": "/usr/share/dictd/foldoc.index",
    "jargon-text": "/usr/share/doc/jargon-text/jargon.txt.gz",
    "dict-devil": "/usr/share/dictd/devil.index",
    "bible-kjv": "/usr/bin/bible",  # the `bible` reader; it depends on bible-kjv-text (the data)
}
CHANGELOGS: dict[str, str] = {
    "python3.11-doc": "/usr/share/doc/python3.11-doc/changelog.Debian.gz",
    "debian-handbook": "/usr/share/doc/debian-handbook/changelog.gz",
    "dict-foldoc": "/usr/share/doc/dict-foldoc/changelog.Debian.gz",
}


class MissingPackage(RuntimeError):
    """A Debian package file the builder needs is absent."""


def require(package: str, path: str | Path | None = None) -> Path:
    """Return the package's file, or raise with the fix spelled out."""
    p = Path(path or PACKAGES[package])
    if not p.exists():
        raise MissingPackage(
            f"{p} not found: run `make sample` as root to install {package} "
            f"(apt-get install -y --no-install-recommends {package}), or pass --from DIR"
        )
    return p


def missing(packages: list[str] | None = None) -> list[str]:
    """Names of the needed packages whose marker file is absent (for test skips)."""
    return [n for n in (packages or list(PACKAGES)) if not Path(PACKAGES[n]).exists()]


def changelog_date(package: str) -> datetime:
    """Date of the package's latest changelog entry (UTC): a fixed, real timestamp for its records."""
    path = Path(CHANGELOGS.get(package, f"/usr/share/doc/{package}/changelog.Debian.gz"))
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.match(r"^ -- .*>  (.+)$", line.rstrip("\n"))
                if m:
                    return parsedate_to_datetime(m.group(1)).astimezone(UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)


_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _b64(s: str) -> int:
    n = 0
    for c in s:
        n = n * 64 + _B64[c]
    return n


@dataclass(frozen=True)
class DictEntry:
    headwords: tuple[str, ...]  # index keys pointing at this entry, in index order
    offset: int
    text: str  # the entry as stored: headword line(s), blank line, indented body


def read_dictd(index: str | Path, data: str | Path) -> list[DictEntry]:
    """Entries of a dictd database (``.index`` with base64 offsets + dictzip ``.dict.dz``), in data order.

    Several index keys can point at one entry (aliases); they are grouped. dictzip is gzip-compatible,
    so the whole data file is read with :mod:`gzip`.
    """
    with gzip.open(data, "rb") as f:
        blob = f.read()
    groups: dict[tuple[int, int], list[str]] = {}
    with open(index, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            groups.setdefault((_b64(parts[1]), _b64(parts[2])), []).append(parts[0])
    return [
        DictEntry(tuple(keys), off, blob[off : off + size].decode("utf-8"))
        for (off, size), keys in sorted(groups.items())
    ]
