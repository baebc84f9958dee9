"""Text shown in a terminal is shown, never obeyed: control characters from crawled text, file names or recipes
(ESC starting a CSI sequence, BEL, a backspace, C1 controls such as the one-byte CSI ``\\x9b``, bidirectional
overrides that reorder what is displayed) are written as escapes (``\\x1b``, ``\\u202e``)."""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the bidirectional embedding/override/isolate marks
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_KEEP_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # \t and \n kept


def _escape(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal_safe(text: str, lines: bool = True) -> str:
    """``text`` with every control character escaped (``lines``: tabs and newlines kept, for a multi-line text;
    otherwise they are escaped too, for a one-line value), and lone surrogates (undecodable file name bytes)
    written as ``\\udcxx``."""
    text = (_CONTROLS_KEEP_LINES if lines else _CONTROLS).sub(_escape, str(text))
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def print_safe(text: str) -> None:
    """``print`` for log lines: the default ``log`` of the Python API (``Pipeline.run``, ``run_ablation``)."""
    print(terminal_safe(text), flush=True)
