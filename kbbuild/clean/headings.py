"""Lines that look like headings but open no section: cover-page banners, addresses, and marks
such as "(續次頁)" or "單位：新台幣千元".

A heading's text is put in front of every chunk of its section (the heading path), so a wrong one
does harm out of all proportion: on a 10-Q cover, "FORM 10-Q" and the registrant's street address
are set large, become headings, and then head every one of the filing's 300 chunks
(``NVIDIA CORPORATION > FORM 10-Q > 2788 San Tomas Expressway > …``). Two shapes are turned back
into paragraphs (where the identity cleaner may still pick them up as the document's letterhead):

- **Banners**: a heading on the first page of a document of ``MIN_PAGES`` or more that no later
  heading of the same or a higher level ever closes. Its "section" would be the whole document:
  it is a second title, not a section. (A paper's "Abstract" and "1 Introduction" on page 1 are
  closed by "2 Method" later and stay.) A file read in windows (``parse.windows``) is judged only
  when its first window is its last: a heading its first window does not close may be closed later.
- **Addresses**: a street number, words and a street type ("7601 Penn Avenue South"), or a Chinese
  address with its road and number (…路…號).
"""

from __future__ import annotations

import re

from kbbuild.records import Document, Element, ElementKind
from kbbuild.text.sections import is_not_a_section

MIN_PAGES = 5

_STREET_TYPES = (
    "Street|St|Road|Rd|Avenue|Ave|Boulevard|Blvd|Drive|Dr|Expressway|Expy|Parkway|Pkwy|Lane|Ln|Way|Place|Pl"
    "|Plaza|Court|Ct|Highway|Hwy|Circle|Square|Terrace|Freeway|Turnpike|Pike|Row|Alley"
)
# A street number (or One/Two/Three), up to five capitalised words, a capitalised street type: the
# capitals keep a numbered section such as "2 Methods and road tests" out.
_ENGLISH_ADDRESS = re.compile(
    rf"^\s*(?:One|Two|Three|\d{{1,6}}[A-Za-z]?)\s+(?:[A-Z0-9][\w.'’-]*\s+){{1,5}}(?:{_STREET_TYPES})\b\.?"
)
_CHINESE_ADDRESS = re.compile(r"(?:市|縣|县|區|区|鄉|乡|鎮|镇).{0,12}(?:路|街|大道|道).{0,10}(?:號|号)")


def is_address(text: str) -> bool:
    line = " ".join(text.split())
    if line.isupper():  # a cover set in capitals: "7601 PENN AVENUE SOUTH"
        line = line.title()
    return bool(_ENGLISH_ADDRESS.match(line)) or bool(_CHINESE_ADDRESS.search(line) and len(line) <= 60)


def _as_paragraph(element: Element, why: str) -> Element:
    return element.model_copy(
        update={"kind": ElementKind.PARAGRAPH, "level": None, "meta": {**element.meta, "not_a_heading": why}}
    )


def demote_false_headings(document: Document) -> tuple[Document, int]:
    """The document with banner and address headings made paragraphs, and how many there were."""
    elements = list(document.elements)
    # Headings carried into a later window were judged in the window they came from.
    headings = [i for i, e in enumerate(elements) if e.kind is ElementKind.HEADING and not e.meta.get("carried")]
    pages = {e.page for e in elements if e.page is not None and not e.meta.get("carried")}
    first_page = min(pages, default=None)
    demoted = 0
    for index in headings:
        element = elements[index]
        if is_address(element.text):
            elements[index] = _as_paragraph(element, "address")
            demoted += 1
            continue
        if is_not_a_section(element.text):
            elements[index] = _as_paragraph(element, "names no section")
            demoted += 1
            continue
        # A later window has no cover; a first window that more follow cannot tell whether nothing closes it.
        opening = document.window == 0 and not document.continues and element.page == first_page
        if (len(document.pages) or len(pages)) < MIN_PAGES or not opening:
            continue
        level = element.level or 1
        closed = any(
            (elements[later].level or 1) <= level
            for later in headings
            if later > index and elements[later].page != first_page and elements[later].kind is ElementKind.HEADING
        )
        if not closed:
            elements[index] = _as_paragraph(element, "cover banner")
            demoted += 1
    if not demoted:
        return document, 0
    return document.model_copy(update={"elements": tuple(elements)}), demoted
