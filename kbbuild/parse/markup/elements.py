"""unstructured's elements as kbbuild ``Element`` records.

unstructured names what a block is (Title, NarrativeText, ListItem, Table, Header, ...) and, for
formats with markup, how deep a heading sits. kbbuild keeps its own vocabulary so that cleaning and
chunking treat a docx heading exactly like a PDF heading. Two corrections are made here:

* Headings in plain text, e-mail and slide bodies are guesses from line shape. unstructured calls a short
  Chinese sentence a title ("员工出差住宿标准为每晚五百元。"), which would open a section per
  sentence; a guessed heading that ends like a sentence or is long is demoted to a paragraph.
  Headings declared by markup (docx styles, ``<h2>``, ``##``) are trusted. On a slide only the
  title (its first text) is a heading: a short bullet is not a section.
* unstructured's language tags call Chinese text English; they are not carried over.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from kbbuild.records import Element, ElementKind, ExtractionMethod
from kbbuild.text.tables import grid_from_html, to_markdown

_KINDS = {
    "Title": ElementKind.HEADING,
    "NarrativeText": ElementKind.PARAGRAPH,
    "UncategorizedText": ElementKind.PARAGRAPH,
    "Text": ElementKind.PARAGRAPH,
    "Address": ElementKind.PARAGRAPH,
    "EmailAddress": ElementKind.PARAGRAPH,
    "ListItem": ElementKind.LIST_ITEM,
    "List-item": ElementKind.LIST_ITEM,
    "Table": ElementKind.TABLE,
    "Header": ElementKind.PAGE_HEADER,
    "Footer": ElementKind.PAGE_FOOTER,
    "PageNumber": ElementKind.PAGE_NUMBER,
    "FigureCaption": ElementKind.CAPTION,
    "Image": ElementKind.FIGURE,
    "Picture": ElementKind.FIGURE,
    "Formula": ElementKind.FORMULA,
    "CodeSnippet": ElementKind.CODE,
}
_SKIP = {"PageBreak"}
_SENTENCE_END = re.compile(r"[。！？；.!?;，,、]\s*$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
MAX_GUESSED_HEADING_CHARS = 80
MAX_GUESSED_HEADING_CJK = 30


def _looks_like_sentence(text: str) -> bool:
    return (
        bool(_SENTENCE_END.search(text))
        or len(text) > MAX_GUESSED_HEADING_CHARS
        or len(_CJK.findall(text)) > MAX_GUESSED_HEADING_CJK
    )


def markup_element(kind: ElementKind, text: str, parser: str, **fields: Any) -> Element:
    """An element read from a format's own markup (styles, tags, MIME parts), not from page geometry."""
    return Element(kind=kind, text=text, parser=parser, method=ExtractionMethod.MARKUP, **fields)


def _table(item: Any, parser: str, page: int | None) -> Element:
    """A table as Markdown with its HTML; one unstructured gave no grid for stays a paragraph."""
    markup = getattr(item.metadata, "text_as_html", None)
    rows, header_rows = grid_from_html(markup) if markup else ([], 0)
    if not rows:
        return markup_element(ElementKind.PARAGRAPH, " ".join(item.text.split()), parser, page=page)
    meta = {"rows": len(rows), "columns": max(len(r) for r in rows)}
    return markup_element(ElementKind.TABLE, to_markdown(rows, header_rows), parser, page=page, html=markup, meta=meta)


HeadingSource = Literal["markup", "guessed", "slides"]


def convert(items: Iterable[Any], parser: str, *, headings: HeadingSource) -> Iterator[Element]:
    """kbbuild elements in document order. A new sheet name (xlsx) becomes a level-1 heading, so
    every chunk of a workbook says which sheet it came from."""
    sheet: str | None = None
    pages_with_text: set[int | None] = set()
    for item in items:
        category = getattr(item, "category", type(item).__name__)
        if category in _SKIP:
            continue
        text = (item.text or "").strip()
        metadata = item.metadata
        page = getattr(metadata, "page_number", None)
        page_name = getattr(metadata, "page_name", None)
        if page_name and page_name != sheet:
            sheet = page_name
            yield markup_element(ElementKind.HEADING, page_name, parser, level=1, page=page, meta={"sheet": page_name})
        kind = _KINDS.get(category, ElementKind.OTHER)
        if kind is ElementKind.TABLE:
            yield _table(item, parser, page)
            continue
        if not text:
            continue
        level = None
        first_on_page = page not in pages_with_text
        pages_with_text.add(page)
        if kind is ElementKind.HEADING:
            if headings == "slides":
                kind, level = (ElementKind.HEADING, 1) if first_on_page else (ElementKind.PARAGRAPH, None)
            elif headings == "guessed" and _looks_like_sentence(text):
                kind = ElementKind.PARAGRAPH
            else:
                depth = getattr(metadata, "category_depth", None)
                level = (depth or 0) + 1 + (1 if sheet else 0)
        yield markup_element(kind, text, parser, level=level, page=page)


def promote_title(elements: list[Element]) -> list[Element]:
    """The leading top-level heading becomes the document's title when it heads the document rather
    than its first section: another heading follows it directly (docx "Title" style then Heading 1,
    which unstructured puts at the same depth), or it is the only top-level heading. "Introduction"
    followed by text and then "Methods" stays a section."""
    body = [i for i, e in enumerate(elements) if not e.kind.is_furniture]
    if not body or elements[body[0]].kind is not ElementKind.HEADING or elements[body[0]].level != 1:
        return elements
    first = body[0]
    if len(body) < 2:
        return elements
    top_level = sum(1 for i in body if elements[i].kind is ElementKind.HEADING and elements[i].level == 1)
    if elements[body[1]].kind is ElementKind.HEADING or top_level == 1:
        elements[first] = elements[first].model_copy(update={"kind": ElementKind.TITLE, "level": None})
    return elements
