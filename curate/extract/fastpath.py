"""Selectolax (lexbor, C) fast path for main-text extraction, modelled on trafilatura's own rules.

1. Pick the main-content container with trafilatura's container cascade (``article``-body classes,
   then ``<article>``, story/post classes, ``#content``-like ids, ``main``), matches in document order
   outside elements that never hold main text (scripts, navigation, forms, figures...); a match that
   renders fewer than two lines (a teaser sharing the article's class) gives way to the next. A page
   where nothing matches (DocBook, Sphinx, hand-written sites) uses its body.
2. Inside it, remove those elements (in C; a ``noscript`` holding paragraphs is unwrapped, as Blogger
   puts the post there), then boilerplate by class/id/role/style (share, related,
   comments, ads, hidden...) unless that would remove nearly all of its text, then link-dense blocks.
3. Render the text blocks (paragraphs, headings, lists, quotes, code, tables; loose ``div`` text
   only when the container has little paragraph text), one block per line, whitespace collapsed.

``extract_main`` returns ``None`` when no container passes the quality check (two or more lines
after pruning, enough text, not a small share of the page); the caller then runs trafilatura.
"""

from __future__ import annotations

import re
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser, LexborNode

JUNK_TAGS = frozenset(
    "script style noscript template svg math iframe frame frameset embed object applet canvas audio video "
    "picture map area figure aside footer nav menu menuitem head button input select option optgroup datalist "
    "textarea label legend fieldset output progress dialog marquee blink time ins link source track param "
    "rp rt rtc".split()
)

CONTAINER_TAGS = frozenset({"article", "div", "main", "section"})
# The elements the cascade can accept (a div without class, id, role or itemprop never is one), in one walk.
CANDIDATE_CSS = ":is(article, main, section, div[class], div[id], div[role], div[itemprop])"
# Container cascade, most specific first (trafilatura's BODY_XPATH vocabulary).
_L1_ID = re.compile(r"(?:entry|article|art)-content|article__content|article(?:-|__)?body|articleBody|body-text")
_L1_CLASS = re.compile(
    r"post[-_]text|post-body|post-?entry|post[-_]?content|postContent|post_inner_wrapper|"
    r"article-?text|articleText|(?:entry|page|text|article|art)-content|article__content|"
    r"article(?:-|__)?body|articleBody|ArticleContent|body-text|article__container"
)
_L3_ID = re.compile(r"^primary|story-body")
_L3_CLASS = re.compile(
    r"^article |post-bodycopy|story-?content|(?:theme|blog|section|single)-content|single-post|"
    r"main-column|wpb_text_column|story-body|field-body|[Ff][Uu][Ll][Ll][Tt][Ee][Xx][Tt]"
)
_L4_ID = re.compile(r"content-main|content-body|contentBody|main-content", re.I)
_L4_CLASS = re.compile(r"content[-_]main|content(?:-|__)body|[Mm]ain-content|[Pp]age-content")
# Every class/id the cascade accepts contains one of these (a one-search reject for most elements).
_ANY_VOCAB = re.compile(r"post|entry|rticle|art-|body|primary|stor|ontent|single|column|text|cell|main", re.I)

# Boilerplate blocks (trafilatura's OVERALL_DISCARD/TEASER/comment vocabulary), tested on id and class.
_BOILER_BOTH = r"^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|teaser|Teaser"
_BOILER_ID = re.compile(
    _BOILER_BOTH + r"|^(?:jp-|dpsp-content)|footer|Footer|share|Share|nav|Nav|menu|related|"
    r"message-container|premium|^ad-|cookie|^(?:[Cc]omment(?!ary)|comol|disqus_thread|"
    r"dsq-comments)|reader-comments|akismet|hidden|^reply-"
)
_BOILER_CLASS = re.compile(
    _BOILER_BOTH + r"|^(?:nav|post-nav)|subnav|avigation|navbar|navbox|menu|bar| ad |-ad-|"
    r"(?:^| )ad-|dfp[Aa]d|outbrain|taboola|criteo|paid-?content|widget|footer|Footer|byline|"
    r"Byline|share-|sociable|embedded|embed|tag-list|consent|modal-content|permission|elated|"
    r"next-|-stories|most-popular|more-on|meta|rating|attachment|timestamp|user-info|"
    r"user-profile|-icon|article-infos|slide|viewport|overlay|options|expand|obfuscated|"
    r"blurred|^[Cc]omment(?!ary)|(?:article|post)-comments|cookie|^hide-|comments-title|"
    r"nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print| hidden| hide|"
    r"noprint|notloaded|^reply-|caption"
)
_BOILER_TAGS = frozenset({"div", "li", "ul", "ol", "dl", "p", "section", "span"})
_HIDDEN_STYLE = re.compile(r"display:\s?none|visibility:\s?hidden")

# Text blocks rendered in strict mode; loose div text only counts when paragraphs are scarce.
HEADING_TAGS = frozenset("h1 h2 h3 h4 h5 h6".split())
BLOCK_TAGS = HEADING_TAGS | frozenset("p ul ol dl blockquote pre table".split())
BREAK_TAGS = BLOCK_TAGS | frozenset("br div li dd dt tr section article hr main".split())
CELL_TAGS = frozenset({"td", "th"})
# The blocks a link density can condemn: those holding a link.
LINKED_BLOCKS_CSS = ":is(div, ul, ol, dl, p):has(a)"
MARK = "\ue000"
MIN_CHARS = 250  # below this a container is not trusted (trafilatura's MIN_EXTRACTED_SIZE)
STRICT_P_CHARS = 750  # paragraph text that makes loose div text boilerplate (trafilatura: 3 x 250)
PAGE_SHARE = 0.1  # a short extract (< SHORT_CHARS) covering less of the page text is not trusted
SHORT_CHARS = 3000
PER_LEVEL = 12  # candidates tried per cascade level, in document order
BODY_LEVEL = 6  # the body itself, when no element matches the cascade


def select(node: LexborNode | LexborHTMLParser, css: str) -> list[LexborNode]:
    """``node.css(css)`` in document order without the repeats lexbor yields for a node matching
    several selectors of a list (decomposing a node twice would touch freed memory)."""
    seen: set[int] = set()
    out = []
    for n in node.css(css):
        if n.mem_id not in seen:
            seen.add(n.mem_id)
            out.append(n)
    return out


def tagged(node: LexborNode, tags: frozenset[str]) -> list[LexborNode]:
    """``node`` and its descendant elements whose tag is in ``tags``, in document order (what
    ``select(node, "t1, t2, ...")`` gives, at a third of the cost: lexbor walks the tree once per selector)."""
    return [n for n in node.traverse(include_text=False) if n.tag in tags]


def _container_level(tag: str, attrs: dict[str, str | None]) -> int:
    """The cascade level (1 = most specific) this element matches as a main-content container, or 0."""
    cls, ident, role = attrs.get("class") or "", attrs.get("id") or "", attrs.get("role") or ""
    return _level(tag, cls, ident, role, attrs.get("itemprop"), "itemprop" in attrs)


@lru_cache(maxsize=4096)  # pages repeat their container classes: each distinct element is classified once
def _level(tag: str, cls: str, ident: str, role: str, itemprop: str | None, has_itemprop: bool) -> int:
    if tag not in CONTAINER_TAGS:
        return 0
    if tag == "div" and not role and not has_itemprop and not _ANY_VOCAB.search(f"{cls} {ident}"):
        return 0
    if (
        cls in ("post", "entry")
        or itemprop == "articleBody"
        or ident == "articleContent"
        or _L1_ID.search(ident)
        or _L1_CLASS.search(cls)
    ):
        return 1
    if tag == "article":
        return 2
    if (
        role == "article"
        or ident in ("article", "story")
        or _L3_ID.search(ident)
        or _L3_CLASS.search(cls)
        or cls in ("postarea", "art-postcontent", "text", "cell", "story")
    ):
        return 3
    if ident == "content" or cls == "content" or _L4_ID.search(ident) or _L4_CLASS.search(cls):
        return 4
    if tag == "main" or cls.startswith("main") or ident.startswith("main") or role.startswith("main"):
        return 5
    return 0


def _is_boilerplate(node: LexborNode) -> bool:
    attrs = node.attributes
    if attrs.get("aria-hidden") == "true" or _HIDDEN_STYLE.search(attrs.get("style") or ""):
        return True
    if node.tag not in _BOILER_TAGS:
        return False
    return (
        _boiler_id(attrs.get("id") or "")
        or _boiler_class(attrs.get("class") or "")
        or "nav" in (attrs.get("role") or "").lower()
    )


# Pages repeat their class and id values (menu items, list entries): each distinct value is searched once.
@lru_cache(maxsize=4096)
def _boiler_id(ident: str) -> bool:
    return bool(ident and _BOILER_ID.search(ident))


@lru_cache(maxsize=4096)
def _boiler_class(cls: str) -> bool:
    return bool(cls and _BOILER_CLASS.search(cls))


def _text_len(node: LexborNode) -> int:
    """Length of the text with whitespace runs collapsed (trafilatura's ``trim``)."""
    return len(" ".join(node.text(deep=True).split()))


def _link_len(node: LexborNode) -> tuple[int, int, int]:
    """(link text length, non-empty links, short links)."""
    total = count = short = 0
    for a in node.css("a"):
        n = _text_len(a)
        if n:
            total, count, short = total + n, count + 1, short + (n < 10)
    return total, count, short


def _link_dense(node: LexborNode) -> bool:
    """trafilatura's link-density test: short link-rich blocks and large link farms are boilerplate;
    a short ``div`` with links and several children (a teaser or link box) too."""
    if node.css_first("a") is None:
        return False
    text = _text_len(node)
    last = node.next is None or all(s.tag == "-text" for s in _siblings_after(node))
    limit = (60 if last else 30) if node.tag == "p" else (300 if last else 100)
    linklen, count, short = _link_len(node)
    if text < limit:
        return (
            count == 0
            or linklen > 0.8 * text
            or (count > 1 and short / count > 0.8)
            or (node.tag == "div" and text < 100 and sum(1 for c in node.iter() if c.tag != "-text") >= 3)
        )
    return count > 4 and linklen > 0.9 * text and linklen < 100 * count


def _siblings_after(node: LexborNode):
    sib = node.next
    while sib is not None:
        yield sib
        sib = sib.next


def drop_boilerplate(root: LexborNode) -> None:
    """Remove the outermost boilerplate blocks inside ``root`` (never ``root`` itself), unless together
    they hold nearly all its text (trafilatura's guard: more than 1/7 must remain)."""
    me = root.mem_id
    # one :is() selector: lexbor walks the tree once and yields each element once (a selector list walks it
    # once per selector and repeats the elements that match several)
    boiler = [
        n
        for n in root.css(":is([class], [id], [style], [role], [aria-hidden])")
        if n.mem_id != me and _is_boilerplate(n)
    ]
    if boiler:
        # raw lengths, whitespace included, as trafilatura's guard measures them
        total = len(root.text(deep=True))
        ids = {n.mem_id for n in boiler}
        outer = [n for n in boiler if not _has_ancestor_in(n, ids, me)]
        if total - sum(len(n.text(deep=True)) for n in outer) > total / 7:
            for n in outer:
                n.decompose()


def _prune(container: LexborNode) -> None:
    """Remove boilerplate and link-dense blocks inside ``container`` (never the container itself)."""
    drop_boilerplate(container)
    me = container.mem_id
    for n in container.css(LINKED_BLOCKS_CSS):  # the blocks holding a link, in document order, in one walk
        if n.mem_id != me and n.parent is not None and _link_dense(n):
            n.decompose()
    for t in container.css("table"):
        text = _text_len(t)
        if text >= 200 and _link_len(t)[0] > (0.8 if text < 1000 else 0.5) * text:
            t.decompose()


def _has_ancestor_in(node: LexborNode, ids: set[int], stop: int) -> bool:
    p = node.parent
    while p is not None and p.mem_id != stop:
        if p.mem_id in ids:
            return True
        p = p.parent
    return False


def _lines(text: str) -> list[str]:
    """The non-empty blocks of ``text`` with whitespace runs collapsed (``str.split`` and ``\\s`` agree on
    every code point)."""
    return [s for s in (" ".join(part.split()) for part in text.split(MARK)) if s]


def _render(container: LexborNode) -> list[str]:
    """Text lines of the container's blocks (strict) or of all its text (paragraph-poor containers)."""
    breaks = tagged(container, BREAK_TAGS | CELL_TAGS)  # one walk; the marks inserted below are text nodes
    for n in breaks:
        n.insert_after(" " if n.tag in CELL_TAGS else MARK)
    me = container.mem_id
    ptext = sum(len(p.text(deep=True)) for p in breaks if p.tag == "p")
    if ptext < STRICT_P_CHARS:
        return _lines(container.text(deep=True))
    blocks = [b for b in breaks if b.tag in BLOCK_TAGS]
    ids = {b.mem_id for b in blocks}
    lines: list[str] = []
    for b in blocks:
        if b.mem_id != me and not _has_ancestor_in(b, ids, me):
            lines += _lines(b.text(deep=True))
    headings = [b for b in blocks if b.tag in HEADING_TAGS]
    while lines and len(lines) > 1 and _is_heading_line(lines[-1], headings):
        lines.pop()
    return lines


def _is_heading_line(line: str, headings: list[LexborNode]) -> bool:
    return any(" ".join(h.text(deep=True).split()) == line for h in headings)


def extract_main(html: str) -> str | None:
    """Main text of ``html`` via a recognised container, or None when the page needs the full extractor."""
    return extract_traced(html)[0]


def extract_traced(html: str) -> tuple[str | None, str]:
    """``(text or None, why)``: the cascade level used, or why the page is not trusted."""
    tree = LexborHTMLParser(html)
    body = tree.body
    if body is None:
        return None, "no body"
    # Junk is removed only where text is read (the container; the body for the page share): matching
    # the junk selectors over the whole page costs more than the rest of the cascade.
    candidates: dict[int, list[LexborNode]] = {}
    for node in body.css(CANDIDATE_CSS):
        level = _container_level(node.tag, node.attributes)
        if level and len(candidates.setdefault(level, [])) < PER_LEVEL and not _in_junk(node):
            candidates[level].append(node)
    if not any(candidates.values()):  # e.g. DocBook/Sphinx output: the pruned body is the container
        candidates = {BODY_LEVEL: [body]}
    # ancestors taken before any pruning: a candidate inside an already-tried one may have been freed
    ancestors = {n.mem_id: _ancestor_ids(n) for nodes in candidates.values() for n in nodes}
    tried: set[int] = set()
    page_chars = -1  # measured only for short extracts
    for level in sorted(candidates):
        for container in candidates[level]:
            if ancestors[container.mem_id] & tried:
                continue
            tried.add(container.mem_id)
            _remove_junk(container)
            _prune(container)
            lines = _render(container)
            if not lines or len(lines) < 2 and level != BODY_LEVEL:  # a teaser sharing the article's class
                continue
            text = "\n".join(lines)
            if len(text) < MIN_CHARS:
                return None, f"short:{level}"
            if level == BODY_LEVEL:
                return text, "body"
            if len(text) < SHORT_CHARS and page_chars < 0:
                _remove_junk(body)
                page_chars = _text_len(body)
            if len(text) < SHORT_CHARS and len(text) < PAGE_SHARE * page_chars:
                return None, f"small share:{level}"
            return text, f"level:{level}"
    return None, "no text block"


def _ancestor_ids(node: LexborNode) -> set[int]:
    out, p = set(), node.parent
    while p is not None:
        out.add(p.mem_id)
        p = p.parent
    return out


def _remove_junk(node: LexborNode) -> None:
    junk = tagged(node, JUNK_TAGS)
    unwrapped = set()
    for n in junk:  # a no-JS rendering of the article (Blogger) is kept, other noscript dropped
        if n.tag == "noscript" and n.css_first("p") is not None:
            unwrapped.add(n.mem_id)
            n.unwrap()
    for n in junk:  # in document order, as if collected after the unwrapping (which moves no other element)
        if n.mem_id not in unwrapped:
            n.decompose()


def _in_junk(node: LexborNode) -> bool:
    p = node.parent
    while p is not None:
        if p.tag in JUNK_TAGS:
            return True
        p = p.parent
    return False
