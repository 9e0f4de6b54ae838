"""Running headers, footers, page numbers and watermarks: found, moved aside, counted.

A line is page furniture when it sits in the top or bottom band of a page and either repeats in
that band on several pages once digits are ignored ("Page 3 of 40" and "Page 4 of 40" are one
line), echoes the document's title, or is nothing but a page number ("— 12 —", "xix", "第 3 页").
A short block repeated anywhere on most pages is a watermark. Stripped lines become furniture
elements (kept in the document, never chunked), so nothing is silently lost and ``kbbuild inspect``
still shows them. Repetition needs several pages; on OCR pages the layout model's header and
footer classes have already done this job, and those elements are only counted here.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from kbbuild.config import CleanSettings
from kbbuild.records import Document, Element, ElementKind

# Kinds whose lines are never furniture: their content is the point even when it repeats.
_EXEMPT = (ElementKind.TABLE, ElementKind.FIGURE, ElementKind.FORMULA, ElementKind.CODE)

_PAGE_NUMBER = re.compile(
    r"""^[\s\-–—_·•|()\[\]<>]*
    (?:(?:page|p\.?|pg\.?|seite|página|第)\s*)?
    (?P<number>(?:[a-z]{1,2}[-–])?(?:\d{1,4}[-–.]){0,3}\d{1,4}|[ivxlcdm]{1,7})
    (?:\s*(?:of|/|／|von|de)\s*\d{1,4})?
    \s*(?:页|頁)?
    (?:\s*[/,，]?\s*共\s*\d{1,4}\s*(?:页|頁))?
    [\s\-–—_·•|()\[\]<>]*$""",
    re.IGNORECASE | re.VERBOSE,
)
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
MIN_KEY_CHARS = 3  # "(c)", "项目": too little text to call a repeat a running header
MAX_PAGE_GAP = 4  # pages from one occurrence of a running line to the next, at most
OUTER_ROWS = 2  # rows of text at the top and at the bottom of a page where furniture may be

_NOT_WORD = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")

_LABELS = {
    "header": ElementKind.PAGE_HEADER,
    "footer": ElementKind.PAGE_FOOTER,
    "page_number": ElementKind.PAGE_NUMBER,
    "watermark": ElementKind.WATERMARK,
}


def furniture_key(line: str) -> str:
    """What stays the same from page to page: case, punctuation and the digits of counters go."""
    return _DIGITS.sub("#", _exact_key(line))


def _longest_run(pages: set[int]) -> int:
    """The most pages of ``pages`` in a row with at most ``MAX_PAGE_GAP`` between neighbours.

    A running header runs: on every page, every other page (a book's verso), or around the odd
    full-page figure. A line whose digit-blind key merely recurs ("Call 12 logged at ...", "Call 4071
    logged at ...") does so far apart in a long document, and is body text however often it recurs."""
    best = run = 0
    previous = None
    for page in sorted(pages):
        run = run + 1 if previous is not None and page - previous <= MAX_PAGE_GAP else 1
        best = max(best, run)
        previous = page
    return best


def _exact_key(line: str) -> str:
    """``furniture_key`` with the digits kept."""
    return " ".join(_NOT_WORD.sub(" ", unicodedata.normalize("NFKC", line).casefold()).split())


def _has_words(key: str) -> bool:
    """Keys of numbers only ("#", "# #") match every other number: they are never evidence of
    repetition (table figures and years repeat too); page numbers are recognised by form instead."""
    return sum(ch != "#" and not ch.isspace() for ch in key) >= MIN_KEY_CHARS


def _outer_rows(elements: list[tuple[int, Element]], rows: int) -> tuple[set[int], set[int]]:
    """Indices of the blocks in the top ``rows`` and bottom ``rows`` rows of text on one page.
    Furniture is the outermost text; a table header or a heading deeper in the band is not."""

    def walk(ordered: list[tuple[int, float, float]]) -> set[int]:
        """``ordered`` from the page edge inwards as (index, near edge, far edge), distances from that
        page edge; a block overlapping the current row joins it, else it starts the next row."""
        chosen: set[int] = set()
        row_far, count = None, 0
        for index, near, far in ordered:
            if row_far is None or near >= row_far:
                count += 1
                if count > rows:
                    break
                row_far = far
            else:
                row_far = max(row_far, far)
            chosen.add(index)
        return chosen

    from_top = sorted((i, e.bbox.y0, e.bbox.y1) for i, e in elements)
    from_bottom = sorted((i, -e.bbox.y1, -e.bbox.y0) for i, e in elements)
    return walk(sorted(from_top, key=lambda t: t[1])), walk(sorted(from_bottom, key=lambda t: t[1]))


def page_number_value(line: str) -> int | None:
    """The counter of a page-number line ("Page 3 of 40" -> 3, "1-1-17" -> 17, "xix" -> 19), or None
    when the line is anything else."""
    match = _PAGE_NUMBER.match(unicodedata.normalize("NFKC", line).strip())
    if not match:
        return None
    number = match.group("number").lower()
    if number.isalpha():
        values = [_ROMAN[ch] for ch in number]
        return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))
    return int(re.split(r"[-–.]", number)[-1])


def _consistent_page_numbers(candidates: list[_Candidate], needed: int) -> set[_Candidate]:
    """Page-number-shaped lines whose value moves with the page (same offset on ``needed`` pages):
    a column of figures or a year at the top of a table never does."""
    by_offset: dict[tuple[str, int], list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        value = page_number_value(candidate.text) if candidate.outermost else None
        if value is not None:
            by_offset[(candidate.band, candidate.page - value)].append(candidate)
    return {candidate for group in by_offset.values() if len({c.page for c in group}) >= needed for candidate in group}


@dataclass(frozen=True)
class _Candidate:
    element: int
    line: int
    page: int
    band: str  # "header" or "footer"
    key: str
    text: str
    outermost: bool  # in the first row of text from its page edge
    in_band: bool  # within the top or bottom band of the page


def _band_candidates(document: Document, band: float) -> list[_Candidate]:
    """Lines in the top or bottom band: all lines of a block lying inside a band, else only the
    first or last line of a block that reaches into it (layout analysis glues a header to the
    body below it when they are close)."""
    heights = {page.number: page.height for page in document.pages}
    per_page: dict[int, list[tuple[int, Element]]] = defaultdict(list)
    for index, element in enumerate(document.elements):
        if element.page is not None and element.bbox is not None and element.text.strip():
            per_page[element.page].append((index, element))
    top_rows: set[int] = set()
    bottom_rows: set[int] = set()
    outermost: set[tuple[int, str]] = set()
    for blocks in per_page.values():
        top, bottom = _outer_rows(blocks, OUTER_ROWS)
        top_rows |= top
        bottom_rows |= bottom
        first_top, first_bottom = _outer_rows(blocks, 1)
        outermost |= {(i, "header") for i in first_top} | {(i, "footer") for i in first_bottom}
    found: list[_Candidate] = []
    for index, element in enumerate(document.elements):
        if element.kind in _EXEMPT or element.kind.is_furniture or element.page is None or element.bbox is None:
            continue
        height = heights.get(element.page)
        if not height or index not in top_rows | bottom_rows:
            continue
        top_limit, bottom_limit = band * height, (1 - band) * height
        lines = element.text.split("\n")
        picks: list[tuple[int, str, bool]] = []  # line, header/footer, inside the band
        if index in top_rows:
            if element.bbox.y1 <= top_limit:  # the whole block is in the top band
                picks = [(i, "header", True) for i in range(len(lines))]
            else:
                picks = [(0, "header", element.bbox.y0 < top_limit)]
        whole_header = bool(picks) and picks[0][2] and len(picks) == len(lines)
        if index in bottom_rows and not whole_header:
            if element.bbox.y0 >= bottom_limit:
                picks += [(i, "footer", True) for i in range(len(lines))]
            else:
                picks.append((len(lines) - 1, "footer", element.bbox.y1 > bottom_limit))
        for line_index, where, in_band in picks:
            text = lines[line_index].strip()
            key = furniture_key(text)
            if key:
                edge = (index, where) in outermost and (
                    line_index == 0 if where == "header" else line_index == len(lines) - 1
                )
                found.append(_Candidate(index, line_index, element.page, where, key, text, edge, in_band))
    return found


def _watermarks(document: Document, share: float, pages: int) -> set[int]:
    """Whole short blocks repeated on most pages, wherever they are ("CONFIDENTIAL", "DRAFT")."""
    if pages < 3:
        return set()
    where: dict[str, set[int]] = defaultdict(set)
    members: dict[str, list[int]] = defaultdict(list)
    for index, element in enumerate(document.elements):
        if element.kind in _EXEMPT or element.kind.is_furniture or element.page is None:
            continue
        text = element.text.strip()
        if not text or len(text) > 40 or "\n" in text:
            continue
        key = furniture_key(text)
        if _has_words(key):
            where[key].add(element.page)
            members[key].append(index)
    needed = max(3, math.ceil(share * pages))
    return {index for key, found in where.items() if len(found) >= needed for index in members[key]}


def find_furniture(document: Document, settings: CleanSettings) -> dict[tuple[int, int], str]:
    """(element index, line index) -> "header" | "footer" | "page_number" | "watermark"."""
    pages = len({e.page for e in document.elements if e.page is not None})
    candidates = _band_candidates(document, settings.furniture_band)
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    seen_exactly: dict[tuple[str, str], set[int]] = defaultdict(set)  # digits kept
    for candidate in candidates:
        if candidate.in_band:
            seen[(candidate.band, candidate.key)].add(candidate.page)
            seen_exactly[(candidate.band, _exact_key(candidate.text))].add(candidate.page)
    needed = min(settings.furniture_min_pages, max(2, math.ceil(pages / 2)))
    first_title = next((i for i, e in enumerate(document.elements) if e.kind is ElementKind.TITLE), None)
    title_key = furniture_key(document.title) if document.title else None
    first_page = min((e.page for e in document.elements if e.page is not None), default=None)
    page_numbers = _consistent_page_numbers(candidates, needed) if pages >= needed else set()
    labels: dict[tuple[int, int], str] = {}
    for candidate in candidates:
        if candidate.element == first_title:
            continue  # the document's real title is content, even when the band repeats it
        # A heading repeats only as itself: "Note 3", "Note 4" opening pages are a numbered series of
        # sections, while a running header in large type is the same text page after page.
        heading = document.elements[candidate.element].kind is ElementKind.HEADING
        group = (
            seen_exactly[(candidate.band, _exact_key(candidate.text))]
            if heading
            else seen[(candidate.band, candidate.key)]
        )
        repeated = candidate.in_band and _has_words(candidate.key) and _longest_run(group) >= needed
        echo = candidate.in_band and candidate.key == title_key and candidate.page != first_page
        # Too few pages to see numbers move: a number-shaped line in the outermost row will do.
        lone_number = (
            pages < needed
            and candidate.in_band
            and candidate.outermost
            and page_number_value(candidate.text) is not None
        )
        if candidate in page_numbers or lone_number:
            labels[(candidate.element, candidate.line)] = "page_number"
        elif repeated or echo:
            labels[(candidate.element, candidate.line)] = candidate.band
    for index in _watermarks(document, settings.watermark_share, pages):
        labels.setdefault((index, 0), "watermark")
    return labels


def _furniture_element(source: Element, text: str, label: str) -> Element:
    return source.model_copy(update={"kind": _LABELS[label], "text": text, "level": None, "meta": {"furniture": label}})


def strip_furniture(document: Document, settings: CleanSettings) -> Document:
    """The document with furniture lines moved into furniture elements, counted."""
    labels = find_furniture(document, settings)
    counts = {"header": 0, "footer": 0, "page_number": 0, "watermark": 0}
    elements: list[Element] = []
    for index, element in enumerate(document.elements):
        if element.kind.is_furniture:  # classified upstream (the OCR layout model): count it
            label = {ElementKind.PAGE_HEADER: "header", ElementKind.PAGE_FOOTER: "footer"}.get(
                element.kind, "page_number" if element.kind is ElementKind.PAGE_NUMBER else "watermark"
            )
            counts[label] += 1
            elements.append(element)
            continue
        lines = element.text.split("\n")
        marked = {line: labels[(index, line)] for line in range(len(lines)) if (index, line) in labels}
        if not marked:
            elements.append(element)
            continue
        for label in marked.values():
            counts[label] += 1
        if len(marked) == len(lines):
            label = max(set(marked.values()), key=list(marked.values()).count)
            elements.append(_furniture_element(element, element.text, label))
            continue
        # Part of a block: the furniture lines become their own elements (position within the
        # block is not known more precisely than the block's box), the body keeps the rest.
        before = [line for line in sorted(marked) if all(i in marked for i in range(line + 1))]
        after = [line for line in sorted(marked) if line not in before]
        for line in before:
            elements.append(_furniture_element(element, lines[line].strip(), marked[line]))
        body = "\n".join(text for i, text in enumerate(lines) if i not in marked)
        elements.append(element.model_copy(update={"text": body}))
        for line in after:
            elements.append(_furniture_element(element, lines[line].strip(), marked[line]))
    cleaning = document.cleaning.model_copy(
        update={
            "headers": document.cleaning.headers + counts["header"],
            "footers": document.cleaning.footers + counts["footer"],
            "page_numbers": document.cleaning.page_numbers + counts["page_number"],
            "watermarks": document.cleaning.watermarks + counts["watermark"],
        }
    )
    return document.model_copy(update={"elements": tuple(elements), "cleaning": cleaning})


def furniture_lines(document: Document, limit: int = 20) -> list[str]:
    """The distinct furniture texts of a document, for the manifest: what was stripped, visibly."""
    texts = (" ".join(e.text.split()) for e in document.elements if e.kind.is_furniture)
    return list(dict.fromkeys(text for text in texts if text))[:limit]
