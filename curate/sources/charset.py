"""Decode HTML bytes as browsers do (the WHATWG Encoding Standard), returning which source decided.

Order: a byte order mark (UTF-8, UTF-16LE, UTF-16BE) wins; then the charset of the HTTP header, then
``<meta charset>``/http-equiv/XML declaration in the first 4 KiB; then UTF-8, then windows-1252, then
UTF-8 with replacement. Only labels of the WHATWG list are honoured (``WEB_LABELS``, mapped to the
Python codec that decodes the same way): a page naming ``utf-7``, ``unicode_escape``, ``punycode``,
``rot13`` or any other Python codec gets the fallbacks instead, so a header can neither choose a
non-web codec (some decode in quadratic time, some reinterpret the text) nor inject escapes.
"""

from __future__ import annotations

import codecs
import re


def to_lf(text: str) -> str:
    """``text`` with every line break (CRLF, or a lone CR as old Mac files and some exports have) as LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


_LONE_CR = re.compile(r"\r(?!\n)")


def lone_cr_to_lf(text: str) -> str:
    """``text`` with each lone CR (a line break of old Mac files) as LF; CRLF is kept (a line splitter on LF
    sees its lines, with the CR stripped as trailing space)."""
    return _LONE_CR.sub("\n", text) if "\r" in text else text


_META = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_XML = re.compile(rb"""<\?xml[^>]{0,100}?encoding\s*=\s*["']([A-Za-z0-9_.:-]{1,40})""", re.I)
_HEADER = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.I)

# WHATWG Encoding Standard labels (https://encoding.spec.whatwg.org/#names-and-labels), by Python codec.
# Left out: "replacement" (ISO-2022-KR/CN, HZ) and x-user-defined, which browsers never decode as text.
_WHATWG = {
    "utf-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    "cp866": "866 cp866 csibm866 ibm866",
    "iso8859_2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2",
    "iso8859_3": "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3",
    "iso8859_4": "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4",
    "iso8859_5": "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988",
    "iso8859_6": "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e "
    "iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987",
    "iso8859_7": "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 "
    "iso_8859-7 iso_8859-7:1987 sun_eu_greek",
    "iso8859_8": "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 "
    "iso_8859-8 iso_8859-8:1988 visual csiso88598i iso-8859-8-i logical",
    "iso8859_10": "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "iso8859_13": "iso-8859-13 iso8859-13 iso885913",
    "iso8859_14": "iso-8859-14 iso8859-14 iso885914",
    "iso8859_15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    "iso8859_16": "iso-8859-16",
    "koi8_r": "cskoi8r koi koi8 koi8-r koi8_r",
    "koi8_u": "koi8-ru koi8-u",
    "mac_roman": "csmacintosh mac macintosh x-mac-roman",
    "cp874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    "cp1250": "cp1250 windows-1250 x-cp1250",
    "cp1251": "cp1251 windows-1251 x-cp1251",
    "cp1252": "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 iso88591 "
    "iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252",
    "cp1253": "cp1253 windows-1253 x-cp1253",
    "cp1254": "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 l5 latin5 "
    "windows-1254 x-cp1254",
    "cp1255": "cp1255 windows-1255 x-cp1255",
    "cp1256": "cp1256 windows-1256 x-cp1256",
    "cp1257": "cp1257 windows-1257 x-cp1257",
    "cp1258": "cp1258 windows-1258 x-cp1258",
    "mac_cyrillic": "x-mac-cyrillic x-mac-ukrainian",
    "gb18030": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk gb18030",
    "big5hkscs": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "euc_jp": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "iso2022_jp": "csiso2022jp iso-2022-jp",
    "cp932": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "cp949": "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601 "
    "windows-949",
    "utf-16-be": "unicodefffe utf-16be",
    "utf-16-le": "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le",
}
WEB_LABELS = {label: codec for codec, labels in _WHATWG.items() for label in labels.split()}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def unicode_codec(data: bytes) -> tuple[str, int] | None:
    """(codec, bytes to skip) when a byte order mark names the encoding, or (``utf-16-le``/``-be``, 0) for
    UTF-16 without one: in the first 8 KiB every other byte is NUL and the others almost never (Latin-script
    text; a binary file has NULs at both), and it decodes to text, not control characters. None otherwise."""
    for bom, cs in _BOMS:
        if data.startswith(bom):
            return cs, len(bom)
    head = data[:8192]
    n = len(head) // 2
    if n < 4:
        return None
    nul_odd, nul_even = head[1 : 2 * n : 2].count(0), head[0 : 2 * n : 2].count(0)
    codec = (
        "utf-16-le"
        if nul_odd >= 0.3 * n and nul_even <= 0.01 * n
        else "utf-16-be"
        if nul_even >= 0.3 * n and nul_odd <= 0.01 * n
        else None
    )
    if codec is None:
        return None
    controls = _CONTROLS.findall(head[: 2 * n].decode(codec, "replace"))
    return (codec, 0) if len(controls) <= 0.01 * n else None  # control characters: binary after all


_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def web_codec(label: str | None) -> str | None:
    """The Python codec for a WHATWG encoding label (case and surrounding space ignored), else None."""
    return WEB_LABELS.get(label.strip().lower()) if label else None


def _norm(label: str | None, in_document: bool) -> str | None:
    cs = web_codec(label)
    # A declaration readable as ASCII cannot be UTF-16: the document is not (WHATWG prescan rule).
    return "utf-8" if in_document and cs in ("utf-16-le", "utf-16-be") else cs


def header_charset(content_type: str | None) -> str | None:
    m = _HEADER.search(content_type or "")
    return m.group(1) if m else None


def sniff_charset(data: bytes) -> str | None:
    """Charset declared inside the document (first 4 KiB): <meta charset>, http-equiv, or XML declaration."""
    head = data[:4096]
    m = _META.search(head) or _XML.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


def decode_html(data: bytes, content_type: str | None = None) -> tuple[str, str, str]:
    """Return (text, charset, how) where how is bom|http|meta|default|fallback|replace."""
    for bom, cs in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(cs, "replace"), cs, "bom"
    for how, label in (("http", header_charset(content_type)), ("meta", sniff_charset(data))):
        cs = _norm(label, in_document=how == "meta")
        if cs:
            try:
                return data.decode(cs), cs, how
            except UnicodeDecodeError:
                pass
    for how, cs in (("default", "utf-8"), ("fallback", "cp1252")):
        try:
            return data.decode(cs), cs, how
        except UnicodeDecodeError:
            pass
    return data.decode("utf-8", "replace"), "utf-8", "replace"
