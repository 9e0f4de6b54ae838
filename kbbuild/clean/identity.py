"""Whose document a chunk comes from, and for when: kept after furniture stripping has taken it
out of the body.

A running header is furniture by shape, yet on a two-page financial statement it is the only place
that says "Taiwan Cement Corporation, consolidated statements, 1 January to 30 September 2023";
on a 10-Q the running footer "Q3 2023 Form 10-Q" is what a question naming the quarter needs. So
the document's identity is gathered once, from the places a reader would look, in this order:

1. the running headers and footers that were stripped (most pages first), minus navigation lines
   ("Table of Contents") and page numbers;
2. the head of the first page: the centred, narrow blocks that open it, before the body starts
   (company, statement and period on a statement; the form name on a filing's cover). Shape, not
   length, tells them from body text: a wrapped paragraph spans the text width, a letterhead does
   not. Documents without page geometry (Word, HTML, text) have their title for this;
3. the file's own properties (a PDF's Info title and subject), when they are not a tool's default;
4. the file name, when it has words in it (``3M_2018_10K.pdf``; not ``772.pdf``).

The title is left out: the chunker already puts it at the head of every heading path. Lines are
kept distinct (one contained in another counts once) and the whole stays short, since it is paid
for in every chunk's token budget. The chunker puts it into each chunk (``Chunk.document``), from
where it is embedded, indexed for full-text search and shown with every hit.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from pathlib import PurePosixPath

from kbbuild.clean.furniture import furniture_key, page_number_value
from kbbuild.records import Document, Element, ElementKind, PageInfo

MAX_CHARS = 160  # the whole identity; about 40 tokens of English, fewer of Chinese
MAX_LINE_CHARS = 100
HEAD_LINES = 3  # lines from the head of the first page
HEAD_WIDTH = 0.6  # a letterhead block is at most this share of the page width...
HEAD_OFF_CENTRE = 0.1  # ...and its centre this close to the page's
RUNNING_LINES = 2  # distinct running headers/footers
RUNNING_SHARE = 0.25  # ...each on at least this share of the pages

# Furniture that repeats on every page of many documents and says nothing about this one.
_NAVIGATION = {
    "table of contents",
    "contents",
    "index",
    "continued",
    "confidential",
    "draft",
    "目录",
    "目錄",
    "续",
    "續",
    "续表",
    "續表",
    "接次頁",
    "承前頁",
    "接下頁",
    "承上頁",
    "接次页",
    "承前页",
}
# Properties that authoring tools fill in by themselves.
_TOOL_DEFAULT = re.compile(
    r"^(microsoft (word|excel|powerpoint) - |untitled|\(?unspecified\)?$|anonymous$|document\d*$|slide \d+$)",
    re.IGNORECASE,
)
_LETTERS = re.compile(r"[^\W\d_]")
_SEPARATORS = re.compile(r"[_\-.+]+")


def _worth_keeping(line: str) -> bool:
    key = furniture_key(line)
    if not key or key in _NAVIGATION or page_number_value(line) is not None:
        return False
    return len(_LETTERS.findall(line)) >= 2


def _clean(line: str) -> str:
    return " ".join(unicodedata.normalize("NFC", line).split())[:MAX_LINE_CHARS]


def _running_lines(document: Document) -> list[str]:
    pages: dict[str, set[int]] = {}
    first_seen: dict[str, str] = {}
    for element in document.elements:
        if element.kind not in (ElementKind.PAGE_HEADER, ElementKind.PAGE_FOOTER):
            continue
        for line in element.text.split("\n"):
            text = _clean(line)
            if not _worth_keeping(text):
                continue
            key = furniture_key(text)
            pages.setdefault(key, set()).add(element.page or 0)
            first_seen.setdefault(key, text)
    # A line on a few pages of a long document runs over one part of it (an exhibit's header), not the whole.
    needed = max(2, math.ceil(RUNNING_SHARE * len(document.pages))) if document.pages else 1
    counts = Counter({key: len(seen) for key, seen in pages.items() if len(seen) >= needed})
    return [first_seen[key] for key, _count in counts.most_common(RUNNING_LINES)]


def _is_letterhead(element: Element, page: PageInfo) -> bool:
    """Centred on the page and at most ``HEAD_WIDTH`` of its width."""
    box = element.bbox
    if box is None or page.width <= 0:
        return False
    centre = (box.x0 + box.x1) / 2
    return box.width <= HEAD_WIDTH * page.width and abs(centre - page.width / 2) <= HEAD_OFF_CENTRE * page.width


def _first_page_head(document: Document) -> list[str]:
    """The letterhead lines that open the first page, up to the first block that is not one."""
    body = [e for e in document.elements if not e.kind.is_furniture and e.text.strip() and e.page is not None]
    if not body:
        return []
    first = min(e.page for e in body if e.page is not None)
    page = next((p for p in document.pages if p.number == first), None)
    if page is None:
        return []
    lines: list[str] = []
    for element in body:
        if element.page != first or not _is_letterhead(element, page):
            break
        if element.kind is ElementKind.TITLE:
            continue  # already at the head of every heading path
        for line in element.text.split("\n"):
            text = _clean(line)
            if _worth_keeping(text):
                lines.append(text)
            if len(lines) == HEAD_LINES:
                return lines
    return lines


def _properties(document: Document) -> list[str]:
    values = [document.metadata.get(name, "") for name in ("title", "subject")]
    return [_clean(v) for v in values if v and not _TOOL_DEFAULT.match(v.strip()) and _worth_keeping(v)]


def _file_name(document: Document) -> list[str]:
    stem = PurePosixPath(document.source.relpath).stem
    words = " ".join(_SEPARATORS.sub(" ", stem).split())
    return [words] if len(_LETTERS.findall(words)) >= 2 else []


def document_identity(document: Document) -> tuple[str, ...]:
    """The identity lines of ``document``, most telling first, within ``MAX_CHARS`` together."""
    title_key = furniture_key(document.title) if document.title else None
    kept: list[str] = []
    keys: list[str] = []
    used = 0
    sources = (_running_lines, _first_page_head, _properties, _file_name)
    for line in (line for source in sources for line in source(document)):
        key = furniture_key(line)
        if key == title_key or any(key in other for other in keys):
            continue
        if used + len(line) > MAX_CHARS:
            continue
        keys = [other for other in keys if other not in key]  # a longer line that contains one before
        kept = [other for other in kept if furniture_key(other) in keys]
        kept.append(line)
        keys.append(key)
        used = sum(len(other) for other in kept)
    return tuple(kept)
