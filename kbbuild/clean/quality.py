"""Quality filter: text that is not language (rows of symbols, OCR speckle, stray fragments on a
near-empty page) costs index space and pollutes nearest-neighbour search, so it goes, counted.

Thresholds are settings (``[clean] min_text_ratio``, ``min_page_chars``). Tables, code and formulas
are exempt: their symbols are their content.
"""

from __future__ import annotations

import re
from collections import defaultdict

from kbbuild.config import CleanSettings
from kbbuild.records import Document, Element, ElementKind

_EXEMPT = (ElementKind.TABLE, ElementKind.CODE, ElementKind.FORMULA)
# Dot leaders and rules inside a line ("Introduction ........ 3"): layout, not text.
_LEADER = re.compile(r"(?:[.·•_…=*~]\s?){4,}|-{4,}")
_CELL_LEADER = re.compile(r"(?:[.·…_]\s?){4,}")  # "Goodwill ........ | 5,366" in a table cell
SHORT_MARKER = 4  # "(a)", "1.", "iv)": list markers are short and allowed to be mostly punctuation


def text_ratio(line: str) -> float:
    """Share of the visible characters that are letters, digits or CJK characters."""
    visible = [ch for ch in line if not ch.isspace()]
    if not visible:
        return 1.0
    return sum(ch.isalnum() for ch in visible) / len(visible)


def is_noise(line: str, min_ratio: float) -> bool:
    visible = sum(not ch.isspace() for ch in line)
    if visible == 0:
        return False
    if visible <= SHORT_MARKER and any(ch.isalnum() for ch in line):
        return False
    return text_ratio(line) < min_ratio


def _clean_lines(element: Element, min_ratio: float) -> tuple[str, int]:
    kept: list[str] = []
    dropped = 0
    for line in element.text.split("\n"):
        if is_noise(line, min_ratio):
            dropped += 1
            continue
        kept.append(" ".join(_LEADER.sub(" ", line).split()) if _LEADER.search(line) else line)
    return "\n".join(kept), dropped


def filter_quality(document: Document, settings: CleanSettings) -> Document:
    noise = 0
    elements: list[Element] = []
    for element in document.elements:
        if element.kind is ElementKind.TABLE and _CELL_LEADER.search(element.text):
            text = "\n".join(" ".join(_CELL_LEADER.sub(" ", line).split()) for line in element.text.split("\n"))
            elements.append(element.model_copy(update={"text": text}))
            continue
        if element.kind in _EXEMPT or element.kind.is_furniture or element.html is not None:
            elements.append(element)
            continue
        text, dropped = _clean_lines(element, settings.min_text_ratio)
        noise += dropped
        if text.strip():
            elements.append(element if text == element.text else element.model_copy(update={"text": text}))
    # Near-empty pages: a few stray characters (a lone mark, a scanner's smudge read as text).
    body_chars: dict[int, int] = defaultdict(int)
    for element in elements:
        if element.page is not None and not element.kind.is_furniture:
            body_chars[element.page] += sum(not ch.isspace() for ch in element.text)
    sparse = {page for page, chars in body_chars.items() if chars < settings.min_page_chars}
    if sparse and len(sparse) < len(body_chars):  # never empty a document that is all short pages
        elements = [e for e in elements if e.page not in sparse or e.kind.is_furniture]
    else:
        sparse = set()
    cleaning = document.cleaning.model_copy(
        update={
            "noise_lines": document.cleaning.noise_lines + noise,
            "near_empty_pages": document.cleaning.near_empty_pages + len(sparse),
        }
    )
    return document.model_copy(update={"elements": tuple(elements), "cleaning": cleaning})
