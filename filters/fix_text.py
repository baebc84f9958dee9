"""Text repair with ftfy (Speer 2019): mojibake (UTF-8 read as Windows-1252 or Latin-1, and back), HTML
entities, C1 controls, lossy sequences, surrogates, terminal escapes; counted per fix.

Defaults follow datatrove's ``FTFYFormatter``: repairs of broken encodings on, cosmetic rewrites that change
correct text (curly to straight quotes, full-width to half-width, ligatures, line breaks, Unicode
normalisation, HTML unescaping) off; every ftfy switch is a recipe key. ftfy works line by line (as its
``fix_text``), and a line of printable ASCII is left without calling it (nothing in it can be mojibake).
Counters: ``fix_text_docs`` (documents changed), ``fix_text_mojibake`` (lines re-decoded) and
``fix_text_<step>`` for each other ftfy step applied. Every document is kept.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import ftfy
import pyarrow as pa

from curate.filters._stage import Verdict, run_docs
from curate.stage import Stage, StageResult

_CLEAN_ASCII = re.compile(r"[\t\n\r\x20-\x7e]*\Z")


class FixTextStage(Stage):
    """Repair mojibake and broken Unicode with ftfy (see the module docstring)."""

    name = "fix_text"

    @dataclass
    class Config:
        fix_encoding: bool = True
        restore_byte_a0: bool = True
        replace_lossy_sequences: bool = True
        decode_inconsistent_utf8: bool = True
        fix_c1_controls: bool = True
        fix_surrogates: bool = True
        remove_control_chars: bool = True
        remove_terminal_escapes: bool = True
        unescape_html: bool = False
        uncurl_quotes: bool = False
        fix_latin_ligatures: bool = False
        fix_character_width: bool = False
        fix_line_breaks: bool = False
        normalization: Literal["NFC", "NFKC", "none"] = "none"

    def __init__(self, config: Any | None = None):
        super().__init__(config)
        c = dict(vars(self.config))
        norm = c.pop("normalization")
        self.ftfy_config = ftfy.TextFixerConfig(normalization=None if norm == "none" else norm, explain=True, **c)

    def fix(self, text: str, counts: Counter) -> str:
        """``text`` repaired; adds one count per fix applied to ``counts``."""
        out = []
        for line in text.splitlines(keepends=True):
            if _CLEAN_ASCII.match(line) and "&" not in line:
                out.append(line)
                continue
            fixed, steps = ftfy.fix_and_explain(line, config=self.ftfy_config)
            if fixed != line:
                kinds = {name if action == "apply" else "mojibake" for action, name in steps or []}
                counts.update(kinds or {"other"})
            out.append(fixed)
        return "".join(out)

    def apply(self, batch: pa.Table, state: Any) -> StageResult:
        counts: Counter[str] = Counter()

        def one(text: str, meta: dict, _id: str) -> Verdict:
            mine: Counter[str] = Counter()
            fixed = self.fix(text, mine)
            if fixed == text:
                return Verdict()
            counts.update(mine)
            counts["docs"] += 1
            return Verdict(text=fixed, meta={"fix_text": dict(sorted(mine.items()))})

        result = run_docs(batch, self.name, one)
        result.counters = {f"fix_text_{k}": v for k, v in sorted(counts.items())}
        return result
