"""URL filter: drop documents whose URL is on a block list, as datatrove's ``URLFilter`` and RefinedWeb do.

A URL is normalised first: lower case, percent-escapes decoded, an IDNA (``xn--``) host decoded to Unicode,
the scheme, user info, port and a leading ``www.`` removed. Then, in this order, the first match drops
the document with reason ``url:<list>``:

- ``block_domains`` (and ``block_domains_file``, one per line): the host or any of its parent domains
  (``example.com`` blocks ``a.b.example.com``, not ``notexample.com``); ``allow_domains`` wins over them;
- ``block_urls`` (and ``block_urls_file``): the normalised URL without its fragment;
- ``banned_words``: a whole token of the normalised URL (split at anything but letters and digits);
- ``banned_subwords``: a substring anywhere in it (CJK text has no word boundaries);
- the shipped default lists (``filters/resources/url_blocklist.yaml``, categories ``adult``, ``gambling``,
  ``crypto_spam`` in en, zh, ja, ko, with its source stated there): reason ``url:default_<category>``.

A document without a URL is kept (``missing_url: drop`` drops it as ``url:missing``). Counts per list go to
``summary.json`` as the drop reasons.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import yaml

from curate.config import PATH
from curate.stage import Stage, StageResult

DEFAULT_LISTS = Path(__file__).with_name("resources") / "url_blocklist.yaml"
CATEGORIES = ("adult", "gambling", "crypto_spam")
_TOKEN = re.compile(r"[^\w]+|_")


@functools.lru_cache(maxsize=1)
def default_lists() -> dict[str, dict[str, list[str]]]:
    with DEFAULT_LISTS.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def _host(raw: str) -> str:
    host = raw.lower().strip(".")
    if "xn--" in host:
        try:
            host = host.encode("ascii").decode("idna")
        except (UnicodeError, ValueError):
            pass  # a malformed IDNA label: matched as written
    return host[4:] if host.startswith("www.") else host


def normalise(url: str) -> tuple[str, str]:
    """(host, normalised URL without scheme, port, user info and fragment) of ``url``."""
    text = unquote(url.strip(), errors="replace")
    parts = urlsplit(text if "://" in text[:12] else "//" + text)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    host = _host(netloc.split(":", 1)[0] if not netloc.startswith("[") else netloc)
    rest = parts.path + ("?" + parts.query if parts.query else "")
    return host, (host + rest).lower()


def _lines(path: str | None) -> list[str]:
    if not path:
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        return [s for line in f if (s := line.split("#", 1)[0].strip())]


class UrlFilterStage(Stage):
    """Drop documents whose URL is block-listed (see the module docstring)."""

    name = "url_filter"

    @dataclass
    class Config:
        block_domains: list[str] = field(default_factory=list)
        block_domains_file: str | None = field(default=None, metadata=PATH)
        allow_domains: list[str] = field(default_factory=list)
        block_urls: list[str] = field(default_factory=list)
        block_urls_file: str | None = field(default=None, metadata=PATH)
        banned_words: list[str] = field(default_factory=list)
        banned_subwords: list[str] = field(default_factory=list)
        default_lists: list[Literal["adult", "gambling", "crypto_spam"]] = field(
            default_factory=lambda: list(CATEGORIES)
        )  # [] turns the shipped lists off
        missing_url: Literal["keep", "drop"] = "keep"

    def __init__(self, config: Any | None = None):
        super().__init__(config)
        c = self.config
        self.domains = {_host(d) for d in c.block_domains + _lines(c.block_domains_file)}
        self.allowed = {_host(d) for d in c.allow_domains}
        self.urls = {normalise(u)[1].split("#", 1)[0] for u in c.block_urls + _lines(c.block_urls_file)}
        self.word_lists: list[tuple[str, set[str], list[str]]] = [
            ("banned_words", {w.lower() for w in c.banned_words}, []),
            ("banned_subwords", set(), [s.lower() for s in c.banned_subwords]),
        ]
        lists = default_lists()
        for cat in c.default_lists:
            self.word_lists.append(
                (
                    f"default_{cat}",
                    {w.lower() for w in lists[cat].get("words", [])},
                    [s.lower() for s in lists[cat].get("subwords", [])],
                )
            )

    def _domain_blocked(self, host: str) -> bool:
        labels = host.split(".")
        suffixes = {".".join(labels[i:]) for i in range(len(labels))}
        return bool(suffixes & self.domains) and not suffixes & self.allowed

    def reason(self, url: str | None) -> str | None:
        """The drop reason for one URL, or None to keep it."""
        if not url or not url.strip():
            return "url:missing" if self.config.missing_url == "drop" else None
        host, norm = normalise(url)
        if self.domains and self._domain_blocked(host):
            return "url:block_domains"
        if self.urls and norm in self.urls:
            return "url:block_urls"
        tokens = set(_TOKEN.split(norm))
        for name, words, subwords in self.word_lists:
            if tokens & words or any(s in norm for s in subwords):
                return f"url:{name}"
        return None

    def apply(self, batch: pa.Table, state: Any) -> StageResult:
        drops, errors = {}, {}
        for i, url in enumerate(batch.column("url").to_pylist()):
            try:
                if (r := self.reason(url)) is not None:
                    drops[i] = r
            except Exception as e:  # a URL the parser rejects errors that row only
                errors[i] = f"error:{type(e).__name__}"
        return StageResult.split(batch, drops, errors, self.name)
