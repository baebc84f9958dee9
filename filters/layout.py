"""Where the article is in a page's lines: language-neutral signals for line/block cleaning.

Naive crawled text is navigation, related-link lists, share counters and footers around one article. The
article is where long lines that end a sentence (``.!?`` or ``。！？``) are dense; boilerplate is runs of
short lines without a sentence end, lines repeated within the page (menus shown twice, ranking lists) and
date/time-only lines (list entries, comment headers). Each line gets a score (its display width when it
reads like prose, a penalty otherwise) and the article regions are the maximum-sum segments of that score
(the Body Text Extraction idea of Finn et al. 2001, on lines instead of tags), taken while a segment holds
at least ``min_region_frac`` of the best one; no region spans a barrier (a run of lines the page shows
twice: a related list or author box inside the article). A headline/byline window before each region is kept
too, and a data table (``table_rows``: a spec table, one cell per line) right after one; outside them, a
long sentence beside a kept line (a paragraph the regions missed).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from curate.config import bounds
from curate.filters.text import display_width

_SENTENCE_END = (".", "!", "?", "。", "！", "？", "．", "‼", "⁉")
_CLOSERS = "\"'”’」』)）]】"
_CLAUSE_END = ("、", "，", ",", "‼", "⁉")
_SENTENCE_MARK = re.compile(r"[。！？]|[.!?](?:\s|$)")
# A date or a time: 2013/12/28, 2024-05-19, 2019年04月21日, 3월 27일, 12/28, 12:52(:17) (not 3.3 or 62.5)
# (a run of more slash-separated numbers, LTE：1/3/7/8/20 in a spec table, is a list of bands, not a date)
_DATE = re.compile(
    r"\d{4}\s*[-/.年년]\s*\d{1,2}(?:\s*[-/.月월]\s*\d{1,2})?\s*[日일]?"
    r"|(?<![\d/])\d{1,2}\s*[/月월]\s*\d{1,2}(?:/\d{2}(?:\d{2})?)?\s*[日일]?(?![\d/])"
    r"|\d{1,2}:\d{2}(?::\d{2})?"
)
_BULLETS = ("- ", "• ", "* ", "· ")
EMAIL = re.compile(r"[\w.+-]+@[\w-]*")  # a byline's address (news feeds cut it short: "nicksy@")
_DIGIT = re.compile(r"\d")
_NOT_LETTER = re.compile(r"[\W\d_]+")
_FIELD = re.compile(r"^[^:：]{1,20}[:：](?:\s|$)")  # "Ort: Kornhaus", "Anlass:", "日時：1月13日"
_BARE_NUMBER = re.compile(r"^[(（]?\d[\d.,\s]*[)）]?$")  # 27, (3), 1,7: a counter, a calendar day, a page number


@dataclass
class LayoutConfig:
    """Scores and thresholds of the article finder (display widths: a CJK character counts 2)."""

    enabled: bool = True
    # the layout rule applies to pages where >= this share of lines are chrome (removed by another rule,
    # repeated, date-only or list items): naive page text, not text a main-content extractor already cut
    min_chrome_share: float = field(default=0.1, metadata=bounds(ge=0, le=1))
    # runs of >= this many short non-prose lines (headline / link lists) count as chrome for that share too,
    # in naive page text that repeats nothing (0: off); a main-content extractor leaves few such runs
    link_run_min: int = field(default=16, metadata=bounds(ge=0))
    # a line ending a sentence scores its width from this width up
    prose_min_width: int = field(default=16, metadata=bounds(ge=0))
    # a line without a sentence end scores width - this (so long lines count)
    plain_width_offset: int = field(default=40, metadata=bounds(ge=0))
    # cap: a long line without a sentence end may be a headline in a list
    plain_max_score: float = field(default=5.0, metadata=bounds(ge=0))
    short_penalty: float = field(default=15.0, metadata=bounds(ge=0))  # floor of a short line's score
    # a repeated line, a date-only line, a line another rule removes
    strong_penalty: float = field(default=30.0, metadata=bounds(ge=0))
    # further regions must score >= this share of the best one
    min_region_frac: float = field(default=0.3, metadata=bounds(ge=0, le=1))
    # or at least this much (a paragraph of prose); 0: off
    min_region_score: float = field(default=0, metadata=bounds(ge=0))
    # a run of consecutive chrome lines (repeated, date-only, list items, removed by another rule) holding
    # >= this many lines repeated on the page that no other rule removes parts regions: no region spans it,
    # no head window keeps its lines, the tail window stops at it (a related list or author box shown twice
    # on the page; 0: off)
    barrier_min_lines: int = field(default=3, metadata=bounds(ge=0))
    # headline / byline / dateline: lines kept before each region (of those no other rule removes)
    head_lines: int = field(default=7, metadata=bounds(ge=0))
    head_skip_repeats: bool = True  # pass over short repeated lines (share buttons) in the head window
    head_skip_width: int = field(default=24, metadata=bounds(ge=0))
    # lines after a region kept up to the first line another rule removes,
    tail_lines: int = field(default=3, metadata=bounds(ge=0))
    # or the first line this wide that does not read as prose (a headline)
    tail_max_plain_width: int = field(default=30, metadata=bounds(ge=0))
    # outside regions, keep lines ending a sentence from this width (0: none)
    keep_prose_width: int = field(default=60, metadata=bounds(ge=0))
    # ... when the line before or after it is kept or such a line too
    prose_needs_neighbour: bool = True
    # this many consecutive lines sharing a prefix/suffix are list items (strong)
    list_min_run: int = field(default=3, metadata=bounds(ge=1))
    # shared prefix/suffix width in display columns (5 CJK characters); 0: off
    list_affix_width: int = field(default=10, metadata=bounds(ge=0))
    # a line whose text beside dates/times has at most this width is a date line
    date_max_letters: int = field(default=6, metadata=bounds(ge=0))
    # a data table directly after an article region (a spec or price table: see ``table_rows``) is kept whole
    table_min_rows: int = field(default=8, metadata=bounds(ge=0))  # 0: off
    table_cell_width: int = field(default=30, metadata=bounds(ge=0))
    # pages with more lines are left whole: finding regions costs O(lines x regions) (naive CJK pages in the
    # dev set have <= 800 lines; 5,000 keeps the worst case near a second)
    max_lines: int = field(default=5000, metadata=bounds(ge=1))


def ends_sentence(line: str) -> bool:
    """Ends with sentence-final punctuation (a closing quote or bracket only after one: 『title』 is a
    name, 「…。」 a sentence; not an ellipsis), or holds two or more sentence ends."""
    core = line.rstrip(_CLOSERS)
    return (core.endswith(_SENTENCE_END) and not core.endswith("...")) or len(_SENTENCE_MARK.findall(line)) >= 2


def reads_as_prose(line: str) -> bool:
    """Ends a sentence, or a clause (a comma: text hard-wrapped mid-sentence), or with an emoji
    (informal writing ends sentences with one)."""
    if ends_sentence(line) or line.endswith(_CLAUSE_END):
        return True
    last = line.rstrip("\ufe0f")[-1:]
    return bool(last) and unicodedata.category(last) == "So"


def is_date_line(line: str, max_letters: int = 6) -> bool:
    """A date/time stamp with at most a few letters around it (list entries, comment headers, bylines)."""
    if not _DIGIT.search(line):
        return False
    rest = _DATE.sub("", line)
    return rest != line and display_width(_NOT_LETTER.sub("", rest)) <= max_letters


def _affix(s: str, width: int, suffix: bool) -> str | None:
    """The first (or last) ``width`` display columns of ``s`` (half as many characters when the line starts,
    or ends, with a wide CJK character), if they hold a letter and are not the whole line."""
    edge = s[-1] if suffix else s[0]
    n = width // 2 if display_width(edge) == 2 else width
    if len(s) <= n:
        return None
    key = s[-n:] if suffix else s[:n]
    return key if any(ch.isalpha() for ch in key) else None


def _affix_runs(lines: list[str], min_run: int, width: int) -> list[bool]:
    """True for lines in a run of >= ``min_run`` consecutive lines sharing a prefix or a suffix of
    ``width`` display columns (``【関連記事】...``, ``... | Site name``): list items."""
    out = [False] * len(lines)
    if not min_run or not width:
        return out
    for suffix in (False, True):
        keys = [_affix(s, width, suffix) for s in lines]
        start = 0
        for i in range(1, len(lines) + 1):
            if i == len(lines) or keys[i] is None or keys[i] != keys[start]:
                if keys[start] is not None and i - start >= min_run:
                    out[start:i] = [True] * (i - start)
                start = i
    return out


def table_rows(
    lines: list[str],
    removed: list[bool] | None = None,
    min_rows: int = 8,
    cell_width: int = 30,
    median_width: int = 12,
    digit_share: tuple[float, float] = (0.25, 0.6),
) -> list[bool]:
    """True for lines in a data table flattened to one cell per line (a spec, price or results table):
    a run of >= ``min_rows`` consecutive cells (short lines of at most ``cell_width`` display columns that
    do not end a sentence, are no date line, teaser or bare number, and no other rule removes) whose
    median width is at most ``median_width`` (a cell is a term or a number with its unit; headline lists,
    pasted spam blocks and menus of phrases are wider) and where ``digit_share`` of the cells hold a number
    (a key/value table: keys are words, values numbers with units; a run where most lines carry a number is
    a ranking or archive list, one where none does a menu; bare numbers are share counters, calendar days
    and page numbers)."""
    out = [False] * len(lines)
    if not min_rows:
        return out
    cells = [
        not (removed and removed[i])
        and display_width(s) <= cell_width
        and not ends_sentence(s)
        and not s.endswith(("...", "…"))
        and not is_date_line(s)
        and not _BARE_NUMBER.match(s)
        for i, s in enumerate(lines)
    ]
    start = 0
    for i in range(len(lines) + 1):
        if i < len(lines) and cells[i]:
            continue
        n = i - start
        if n >= min_rows and sorted(display_width(s) for s in lines[start:i])[n // 2] <= median_width:
            share = sum(bool(_DIGIT.search(s)) for s in lines[start:i]) / n
            if digit_share[0] <= share <= digit_share[1]:
                out[start:i] = [True] * n
        start = i + 1
    return out


def line_scores(lines: list[str], removed: list[bool], c: LayoutConfig) -> list[float]:
    """Prose-likeness of each stripped line (see module doc); ``removed`` marks lines other rules remove."""
    counts = Counter(lines)
    listed = _affix_runs(lines, c.list_min_run, c.list_affix_width)
    out = []
    for s, gone, item in zip(lines, removed, listed):
        if gone or item or counts[s] > 1 or is_date_line(s, c.date_max_letters):
            out.append(-c.strong_penalty)
            continue
        w = display_width(s)
        if s.endswith(("...", "…")):  # a truncated teaser: related-article lists
            out.append(-c.short_penalty)
        elif reads_as_prose(s):
            out.append(float(w) if w >= c.prose_min_width else -c.short_penalty / 2)
        else:
            out.append(min(max(float(w - c.plain_width_offset), -c.short_penalty), c.plain_max_score))
    return out


def _best_segment(scores: list[float], lo: int, hi: int) -> tuple[float, int, int]:
    """(sum, start, end) of the maximum-sum segment of scores[lo:hi] (Kadane); (0, lo, lo) if none > 0."""
    best, bs, be = 0.0, lo, lo
    cur, start = 0.0, lo
    for i in range(lo, hi):
        if cur <= 0:
            cur, start = 0.0, i
        cur += scores[i]
        if cur > best:
            best, bs, be = cur, start, i + 1
    return best, bs, be


def barriers(lines: list[str], scores: list[float], removed: list[bool], c: LayoutConfig) -> list[bool]:
    """True for lines in a run of consecutive chrome lines (scoring ``-strong_penalty``) that holds >=
    ``barrier_min_lines`` lines that occur elsewhere on the page too and that no other rule removes: a list
    of other articles or an author box the page shows twice, which no article region spans (a lone repeated
    caption does not part one, nor an article's own list whose items share a prefix)."""
    out = [False] * len(scores)
    if not c.barrier_min_lines:
        return out
    counts = Counter(lines)
    start = 0
    for i in range(len(scores) + 1):
        if i < len(scores) and scores[i] <= -c.strong_penalty:
            continue
        if (
            sum(
                not removed[j] and counts[lines[j]] > 1 and not is_date_line(lines[j], c.date_max_letters)
                for j in range(start, i)
            )
            >= c.barrier_min_lines
        ):
            out[start:i] = [True] * (i - start)
        start = i + 1
    return out


def regions(
    scores: list[float], min_frac: float, min_score: float = float("inf"), breaks: list[bool] | None = None
) -> list[tuple[int, int]]:
    """Article regions [start, end): the best segment, then the best of what is left on either side,
    while a segment scores at least ``min_frac`` of the first or ``min_score``; sorted by start. No region
    holds a line marked in ``breaks``."""
    out: list[tuple[int, int]] = []
    cuts = [i for i, b in enumerate(breaks or ()) if b]
    spans = [(lo, hi) for lo, hi in zip([0] + [i + 1 for i in cuts], cuts + [len(scores)]) if hi > lo]
    top = None
    while spans:
        cands = [(*_best_segment(scores, lo, hi), lo, hi) for lo, hi in spans]
        total, a, b, lo, hi = max(cands, key=lambda x: x[0])
        if total <= 0 or (top is not None and total < min(min_frac * top, min_score)):
            break
        top = top if top is not None else total
        out.append((a, b))
        spans.remove((lo, hi))
        spans += [s for s in ((lo, a), (b, hi)) if s[1] > s[0]]
    return sorted(out)


def _head(lines: list[str], removed: list[bool], start: int, breaks: list[bool], c: LayoutConfig) -> list[int]:
    """The ``head_lines`` lines before ``start`` that no other rule removes; date lines and e-mail lines come
    along without counting (a dateline or a reporter's address belongs to the byline, also right above a
    full window), and with ``head_skip_repeats`` short repeated lines (share buttons shown twice on the page)
    are passed over, as are the lines of a barrier (``breaks``: a list of other articles; a dateline in one
    stays); a repeated headline or description stays."""
    out, n = [], 0
    counts = Counter(lines) if c.head_skip_repeats else None
    for i in range(start - 1, -1, -1):
        if n >= c.head_lines and (
            removed[i] or not (is_date_line(lines[i], c.date_max_letters) or EMAIL.search(lines[i]))
        ):
            break  # a full window takes only the date and e-mail lines right above it
        if removed[i]:
            continue
        if counts is not None and counts[lines[i]] > 1 and display_width(lines[i]) < c.head_skip_width:
            continue
        dated = is_date_line(lines[i], c.date_max_letters)
        if breaks[i] and not dated:
            continue
        out.append(i)
        n += not (dated or EMAIL.search(lines[i]))
    return out


def _in_link_runs(lines: list[str], min_run: int, max_width: int = 40) -> int:
    """Lines in runs of >= ``min_run`` consecutive short lines (<= ``max_width`` columns) that do not read as
    prose, are no bullet items and start with no number (quantities, numbered steps): headline and link
    lists, menus (0 when ``min_run`` is 0)."""
    if not min_run:
        return 0
    n = run = 0
    for s in lines + [""]:
        if (
            s
            and display_width(s) <= max_width
            and not reads_as_prose(s)
            and not s.startswith(_BULLETS)
            and not s[0].isdigit()
        ):
            run += 1
            continue
        n += run if run >= min_run else 0
        run = 0
    return n


def article_mask(lines: list[str], removed: list[bool], c: LayoutConfig) -> list[bool] | None:
    """True for lines in an article region, in the head window before one, or prose outside them;
    None (cut nothing) when fewer than ``min_chrome_share`` of the lines are chrome: text a main-content
    extractor already cut. Repeated bullet items ("- home page" in a link list) are content there."""
    if len(lines) > c.max_lines:
        return None
    scores = line_scores(lines, removed, c)
    listed = _affix_runs(lines, c.list_min_run, c.list_affix_width)
    strong = [v <= -c.strong_penalty and not s.startswith(_BULLETS) for v, s in zip(scores, lines)]
    if sum(strong) < c.min_chrome_share * len(lines) and sum(strong) + _in_link_runs(
        lines, c.link_run_min
    ) < c.min_chrome_share * len(lines):
        return None
    keep = [False] * len(lines)
    table = table_rows(lines, removed, c.table_min_rows, c.table_cell_width)
    breaks = barriers(lines, scores, removed, c)
    for a, b in regions(scores, c.min_region_frac, c.min_region_score or float("inf"), breaks):
        for i in range(a, b):
            keep[i] = not removed[i]
        for i in _head(lines, removed, a, breaks, c):  # headline, byline, dateline before the region
            keep[i] = True
        end = b
        for i in range(b, min(len(lines), b + c.tail_lines)):  # a caption or sign-off after it
            if (
                removed[i]
                or listed[i]
                or breaks[i]
                or is_date_line(lines[i], c.date_max_letters)
                or lines[i].endswith(("...", "…"))
                or (
                    not reads_as_prose(lines[i])
                    and display_width(lines[i]) >= c.tail_max_plain_width
                    and not EMAIL.search(lines[i])
                )
            ):
                break  # stop at a list item, a date line, a teaser, a headline-like line (a related list);
                # a sign-off with the reporter's e-mail is the article's
            keep[i] = True
            end = i + 1
        while end < len(lines) and table[end]:  # a data table right after it (or after its caption)
            keep[end] = True
            end += 1
    if c.keep_prose_width:
        prose = [
            not keep[i] and scores[i] > 0 and ends_sentence(s) and display_width(s) >= c.keep_prose_width
            for i, s in enumerate(lines)
        ]
        # a lone blurb between chrome lines (a teaser list's "title / blurb" entries, a site description in
        # the footer) is no article paragraph: one stays beside a kept line, another prose line or a field
        # line ("Termin: 29.02.2020": a listing's records, whose description is their content)
        near = [keep[i] or prose[i] or bool(_FIELD.match(s)) for i, s in enumerate(lines)]
        for i, p in enumerate(prose):
            if p and (not c.prose_needs_neighbour or (i > 0 and near[i - 1]) or (i + 1 < len(lines) and near[i + 1])):
                keep[i] = True
    return keep
