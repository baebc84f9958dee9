"""Web sample: real HTML pages from Debian doc packages, packed as HTTP 200 responses into one WARC."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

PYDOC_ROOT = Path("/usr/share/doc/python3.11/html")
PYDOC_BASE = "https://docs.python.org/3.11/"
HANDBOOK_ROOT = Path("/usr/share/doc/debian-handbook/html")
HANDBOOK_BASE = "https://debian-handbook.info/browse/"

_CHARSET = re.compile(
    rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)|<\?xml[^>]+encoding=["']([A-Za-z0-9_.:-]+)""", re.I
)
_CANONICAL = re.compile(rb"""<link[^>]*rel=["']canonical["'][^>]*href=["']([^"']+)["']""", re.I)


@dataclass(frozen=True)
class Page:
    path: Path  # the HTML file on disk
    url: str  # its public URL
    package: str


def declared_charset(html: bytes) -> str:
    """The page's declared charset (meta or XML declaration), else utf-8."""
    m = _CHARSET.search(html[:4096])
    return (m.group(1) or m.group(2)).decode("ascii").lower() if m else "utf-8"


def pydoc_url(rel: str) -> str:
    """docs.python.org URL of a page of the python3.11-doc tree (``index.html`` -> its folder)."""
    return PYDOC_BASE + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)


def handbook_url(lang: str, name: str, html: bytes = b"") -> str:
    """debian-handbook.info URL: the page's own ``rel=canonical`` link (an https debian-handbook.info one),
    else ``/browse/<lang>/stable/<page>`` (the site's pattern; ``en-US`` pages are canonical at ``/browse/stable/``)."""
    m = _CANONICAL.search(html[:8192])
    if m and m.group(1).startswith(b"https://debian-handbook.info/"):
        return m.group(1).decode("ascii")
    prefix = HANDBOOK_BASE + ("" if lang == "en-US" else lang + "/") + "stable/"
    return prefix + ("" if name == "index.html" else name)


def pydoc_pages(root: Path = PYDOC_ROOT) -> list[Page]:
    return [
        Page(p, pydoc_url(p.relative_to(root).as_posix()), "python3.11-doc")
        for p in sorted(root.rglob("*.html"), key=lambda p: p.relative_to(root).as_posix())
        if not p.relative_to(root).parts[0].startswith("_")
    ]


def handbook_pages(langs: list[str] | tuple[str, ...], root: Path = HANDBOOK_ROOT) -> list[Page]:
    pages = []
    for lang in langs:
        d = root / lang
        if not d.is_dir():
            raise FileNotFoundError(f"debian-handbook has no language {lang!r} under {root}")
        for p in sorted(d.glob("*.html")):
            pages.append(Page(p, handbook_url(lang, p.name, p.read_bytes()), "debian-handbook"))
    return pages


def record_id(url: str) -> str:
    """Deterministic WARC-Record-ID (UUID5 of the URL), so builds are byte-identical."""
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url)}>"


def warc_date(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_warc(out: Path, pages: list[Page], dates: dict[str, datetime], info: dict[str, str]) -> dict[str, int]:
    """Write ``out`` (gzip WARC/1.0): one warcinfo record, then one ``response`` per page in the given order.

    The HTML bytes are the payload unchanged; headers are ``HTTP/1.1 200 OK`` with the declared charset.
    ``dates`` maps package -> WARC-Date. Returns counts.
    """
    first = min(dates.values())
    nbytes = 0
    with open(out, "wb") as f:
        w = WARCWriter(f, gzip=True, warc_version="WARC/1.0")
        body = "".join(f"{k}: {v}\r\n" for k, v in info.items()).encode("utf-8")
        w.write_record(
            w.create_warc_record(
                "",
                "warcinfo",
                payload=BytesIO(body),
                length=len(body),
                warc_content_type="application/warc-fields",
                warc_headers_dict={
                    "WARC-Record-ID": record_id("warcinfo:" + out.name),
                    "WARC-Date": warc_date(first),
                    "WARC-Filename": out.name,
                },
            )
        )
        for page in pages:
            html = page.path.read_bytes()
            nbytes += len(html)
            http = StatusAndHeaders(
                "200 OK",
                [
                    ("Content-Type", f"text/html; charset={declared_charset(html)}"),
                    ("Content-Length", str(len(html))),
                ],
                protocol="HTTP/1.1",
            )
            w.write_record(
                w.create_warc_record(
                    page.url,
                    "response",
                    payload=BytesIO(html),
                    length=len(html),
                    http_headers=http,
                    warc_headers_dict={
                        "WARC-Record-ID": record_id(page.url),
                        "WARC-Date": warc_date(dates[page.package]),
                    },
                )
            )
    return {"docs": len(pages), "payload_bytes": nbytes}
