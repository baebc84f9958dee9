"""PII redaction: e-mail addresses, IPv4/IPv6 addresses and phone numbers replaced by typed placeholders.

The patterns follow datatrove's ``PIIFormatter`` (e-mail and IP regexes; only globally routable IPs are
replaced, so private, loopback and documentation addresses such as 192.0.2.1 and 2001:db8::1 stay) and
add phone numbers: international (``+`` and a country code), North American (``(555) 010-1234``), and the
common national forms of China (mobiles ``138 1234 5678``, area codes ``010-12345678``), Japan
(``03-1234-5678``, ``090-1234-5678``, ``0120-123-456``) and Korea (``02-123-4567``, ``010-1234-5678``). Each
candidate is checked so that numbers that only look alike stay: a dotted quad inside a longer dotted run
or after ``v``/``version`` (version numbers), IPv6 candidates that ``ipaddress`` rejects (times such as
12:30:45), digit runs glued to other digits or letters (ISBNs, prices, ids), national forms with a
leading 0 (no date starts with 0 in the year). Keep-lists: e-mail domains (``example.com`` and the other
RFC 2606 names by default) and IP networks. The stage keeps every document; counts per type go to
``summary.json`` (``pii_email``, ``pii_ipv4``, ``pii_ipv6``, ``pii_phone``, ``pii_docs``, ``pii_chars``) and
the document's counts to ``meta.pii``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from curate.filters._stage import Verdict, run_docs
from curate.stage import Stage, StageResult

TYPES = ("email", "ipv4", "ipv6", "phone")
EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w-])"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)")
# a dotted quad after one of these is a version or an EC number, not an address (within 24 characters)
VERSION_BEFORE = re.compile(
    r"(?:\b(?:v|version|ver|release|build|ec(?:[ _]number)?|версия|версія|wersja)\.?"
    r"|版本|バージョン|버전)\s*[=:|：]?\s*$",
    re.IGNORECASE,
)
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:|(?:\d{1,3}\.){3}\d{1,3})(?![\w:.])")
HEX_GROUP = re.compile(r"[0-9A-Fa-f]{1,4}")
_SEP = r"[ .\-\u2010-\u2013\u00a0]"  # space, dot, hyphens (ASCII and Unicode), no-break space
_DASH = r"[-\u2010-\u2013\uff0d]"  # ASCII, Unicode and full-width hyphens
PHONE = re.compile(
    "|".join(
        [
            # international: +CC then groups (+44 20 7946 0958, +81-3-1234-5678, +1 (212) 555-0100, +82 2-123-4567)
            rf"\+[1-9]\d{{0,2}}(?:{_SEP}?\(?\d{{1,4}}\)?){{2,5}}",
            # North America: (212) 555-0100, 212-555-0100, 212.555.0100 (area and exchange start with 2-9)
            rf"\(\s?[2-9]\d\d\s?\){_SEP}?[2-9]\d\d[-. ]\d{{4}}",
            r"[2-9]\d\d(?P<na>[-.])[2-9]\d\d(?P=na)\d{4}",
            # zh mobile: 138 1234 5678, 138-1234-5678 (the bare 13812345678 only after a cue, see PHONE_CUE)
            rf"1[3-9]\d(?:{_SEP}\d{{4}}){{2}}",
            r"(?P<bare>1[3-9]\d{9})",
            # zh/ja/ko national, a leading 0: (010) 1234 5678, 031)123-4567, 03-1234-5678, 090-1234-5678, 02-123-4567,
            # 0120-123-456, 010-12345678, 0937-141993 (a Taiwanese mobile)
            rf"\(0\d{{1,4}}\)\s?\d{{3,4}}(?:{_DASH}|\s)?\d{{4}}",
            rf"0\d{{1,4}}\)\d{{3,4}}{_DASH}\d{{4}}",
            rf"0\d{{1,4}}(?P<cjk>{_DASH}|\s)\d{{2,4}}(?P=cjk)\d{{3,4}}",
            rf"0\d{{2,3}}{_DASH}\d{{6,8}}",
        ]
    )
)
# an eleven-digit run is a zh mobile only after one of these (else a photo id, a byte count...)
PHONE_CUE = re.compile(
    r"(?:电话|電話|手机|手機|联系|聯繫|携帯|전화|휴대폰|핸드폰|tel\.?|phone|mobile|fax|☎|📞|[:：])\s*$", re.IGNORECASE
)
SIGNED_DECIMAL = re.compile(r"\+\d{1,3}\.\d+(?:\s|$)")  # +8.875 (a race gap), not +1.212.555.0100
DATE_LIKE = re.compile(r"(?:0?[1-9]|[12]\d|3[01])\D{1,2}(?:0?[1-9]|[12]\d|3[01])\D{1,2}(?:1[6-9]|20)\d\d")
_DIGIT_OR_WORD = re.compile(r"[\w]")


def _bounded(text: str, start: int, end: int) -> bool:
    """A phone candidate stands alone: nothing word-like or arithmetic glued before it, no digit group
    continuing it on either side (``1 073 741 824``, ``28 09 13 131``), no ``.``, ``,`` or ``-`` and a digit
    after it (a longer number, a price, a range)."""
    before, before2 = (text[start - 1] if start else " "), text[max(0, start - 2) : start]
    after = text[end : end + 2]
    if (
        _DIGIT_OR_WORD.match(before)
        or before in "+/-.,$€£¥#)]}&|^*="
        or (after[:1] and _DIGIT_OR_WORD.match(after[:1]))
    ):
        return False
    if len(before2) == 2 and before2[0].isdigit() and before2[1] in " \u00a0":
        return False
    return not (len(after) == 2 and after[0] in ".,-/ \u00a0" and after[1].isdigit())


def _phone_ok(m: re.Match, text: str) -> bool:
    """7 to 15 digits (E.164); not a day-month-year date (05-12-2023), a signed decimal, or a bare digit run
    without a cue before it."""
    s = m.group()
    if not 7 <= sum(c.isdigit() for c in s) <= 15 or DATE_LIKE.fullmatch(s) or SIGNED_DECIMAL.match(s):
        return False
    return not m.group("bare") or bool(PHONE_CUE.search(text[max(0, m.start() - 16) : m.start()]))


def _domain_kept(address: str, keep: tuple[str, ...]) -> bool:
    domain = address.rsplit("@", 1)[-1].lower()
    return any(domain == k or domain.endswith("." + k) for k in keep)


@dataclass
class Redactor:
    """The matching and replacing for one configuration (built once per stage object)."""

    types: tuple[str, ...]
    placeholders: dict[str, str]
    keep_domains: tuple[str, ...]
    keep_networks: tuple[Any, ...]
    only_public_ips: bool

    def _ip_kept(self, s: str) -> bool:
        try:
            ip = ipaddress.ip_address(s)
        except ValueError:
            return True  # not an address at all
        if any(ip.version == n.version and ip in n for n in self.keep_networks):
            return True
        return self.only_public_ips and not ip.is_global

    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        spans: list[tuple[int, int, str]] = []
        if "email" in self.types and "@" in text:
            spans += [
                (m.start(), m.end(), "email")
                for m in EMAIL.finditer(text)
                if not _domain_kept(m.group(), self.keep_domains)
            ]
        if "ipv4" in self.types and "." in text:
            spans += [
                (m.start(), m.end(), "ipv4")
                for m in IPV4.finditer(text)
                if not VERSION_BEFORE.search(text[max(0, m.start() - 24) : m.start()])
                and len(m.group()) > 7
                and not self._ip_kept(m.group())
            ]  # 1.3.6.3: a section, a version
        if "ipv6" in self.types and ("::" in text or text.count(":") >= 5):
            spans += [
                (m.start(), m.end(), "ipv6")
                for m in IPV6.finditer(text)
                if len(HEX_GROUP.findall(m.group())) >= 3 and not self._ip_kept(m.group())
            ]
        if "phone" in self.types:
            spans += [
                (m.start(), m.end(), "phone")
                for m in PHONE.finditer(text)
                if _bounded(text, m.start(), m.end()) and _phone_ok(m, text)
            ]
        return spans

    def redact(self, text: str) -> tuple[str, dict[str, int], int]:
        """(redacted text, count per type, characters replaced); overlapping matches count once, the earliest
        and then longest winning."""
        spans = sorted(self._spans(text), key=lambda s: (s[0], -s[1]))
        out, counts, pos, removed = [], dict.fromkeys(self.types, 0), 0, 0
        for start, end, kind in spans:
            if start < pos:
                continue
            out += [text[pos:start], self.placeholders[kind]]
            counts[kind] += 1
            removed += end - start
            pos = end
        if not pos:
            return text, counts, 0
        out.append(text[pos:])
        return "".join(out), counts, removed


class PiiStage(Stage):
    """Replace e-mails, IP addresses and phone numbers with typed placeholders (see the module docstring)."""

    name = "pii"

    @dataclass
    class Config:
        types: list[str] = field(default_factory=lambda: list(TYPES))
        placeholders: dict[str, str] = field(
            default_factory=lambda: {
                "email": "<EMAIL>",
                "ipv4": "<IP_ADDRESS>",
                "ipv6": "<IP_ADDRESS>",
                "phone": "<PHONE_NUMBER>",
            }
        )
        # RFC 2606/6761 names reserved for documentation and testing are not anybody's address
        keep_domains: list[str] = field(
            default_factory=lambda: [
                "example.com",
                "example.org",
                "example.net",
                "example.edu",
                "example",
                "test",
                "invalid",
                "localhost",
            ]
        )
        # networks kept on top of the non-global ones (private, loopback, documentation) when only_public_ips
        keep_networks: list[str] = field(default_factory=list)
        only_public_ips: bool = True  # as datatrove: a 10.x or 192.168.x address identifies nobody

        def __post_init__(self) -> None:
            bad = sorted(set(self.types) - set(TYPES))
            if bad:
                raise ValueError(f"types: {bad[0]!r} is not one of {', '.join(TYPES)}")
            missing = sorted(set(self.types) - set(self.placeholders))
            if missing:
                raise ValueError(f"placeholders: no placeholder for {missing[0]!r}")
            for n in self.keep_networks:
                try:
                    ipaddress.ip_network(n, strict=False)
                except ValueError:
                    raise ValueError(f"keep_networks: {n!r} is not an IP network (such as 192.0.2.0/24)") from None

    def __init__(self, config: Any | None = None):
        super().__init__(config)
        c = self.config
        self.redactor = Redactor(
            tuple(c.types),
            dict(c.placeholders),
            tuple(d.lower().strip(".") for d in c.keep_domains),
            tuple(ipaddress.ip_network(n, strict=False) for n in c.keep_networks),
            c.only_public_ips,
        )

    def apply(self, batch: pa.Table, state: Any) -> StageResult:
        counters = {f"pii_{t}": 0 for t in self.config.types} | {"pii_docs": 0, "pii_chars": 0}

        def one(text: str, meta: dict, _id: str) -> Verdict:
            new, counts, removed = self.redactor.redact(text)
            if not removed:
                return Verdict()
            for t, n in counts.items():
                counters[f"pii_{t}"] += n
            counters["pii_docs"] += 1
            counters["pii_chars"] += removed
            return Verdict(meta={"pii": {t: n for t, n in counts.items() if n}}, text=new)

        return run_docs(batch, self.name, one, counters)


def redactor(**settings: Any) -> Callable[[str], tuple[str, dict[str, int], int]]:
    """``redact(text)`` for the given settings (the Config's keys): for measurements and other tools."""
    return PiiStage(PiiStage.Config(**settings)).redactor.redact
