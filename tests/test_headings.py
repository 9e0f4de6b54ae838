"""Cover-page banners and addresses read as headings are paragraphs again: otherwise they would head
every chunk of the document (``FORM 10-Q > 2788 San Tomas Expressway > ...``)."""

from __future__ import annotations

import pytest

from kbbuild.clean.headings import demote_false_headings, is_address
from kbbuild.records import Document, Element, ElementKind, ExtractionMethod, PageInfo, SourceFile
from kbbuild.text.sections import is_not_a_section


def _element(kind: ElementKind, text: str, page: int, level: int | None = None) -> Element:
    return Element(kind=kind, text=text, page=page, level=level, parser="test", method=ExtractionMethod.TEXT_LAYER)


def _document(elements: list[Element], pages: int) -> Document:
    source = SourceFile(path="/docs/q.pdf", relpath="q.pdf", sha256="-", size=1, format="pdf")
    infos = tuple(
        PageInfo(number=n, width=612, height=792, n_chars=900, has_text_layer=True) for n in range(1, pages + 1)
    )
    return Document(source=source, parser="test", elements=tuple(elements), pages=infos)


def test_addresses_are_told_from_numbered_sections():
    for address in (
        "2788 San Tomas Expressway",
        "7601 PENN AVENUE SOUTH, RICHFIELD",
        "One Apple Park Way",
        "83 Tower Road North Warmley, Bristol BS30 8XP",
        "台北市內湖區瑞光路 508 號",
    ):
        assert is_address(address), address
    for section in (
        "3 Maintenance schedule",
        "2 Methods and road tests",
        "4 Road Map",
        "11. Segments",
        "2021 Rigid Packaging",
        "第三章 住宿标准",
    ):
        assert not is_address(section), section


def test_a_cover_banner_and_an_address_stop_heading_the_filing():
    elements = [
        _element(ElementKind.TITLE, "NORTHWIND CORPORATION", 1),
        _element(ElementKind.HEADING, "FORM 10-Q", 1, level=1),  # never closed: a banner
        _element(ElementKind.HEADING, "2788 San Tomas Expressway", 1, level=2),  # an address
        _element(ElementKind.PARAGRAPH, "(Address of principal executive offices)", 1),
        _element(ElementKind.HEADING, "Item 1. Financial Statements", 2, level=2),
        _element(ElementKind.PARAGRAPH, "Revenue rose.", 2),
        _element(ElementKind.HEADING, "Item 2. Management's Discussion", 4, level=2),
        _element(ElementKind.PARAGRAPH, "Margins held.", 5),
    ]
    cleaned, demoted = demote_false_headings(_document(elements, pages=6))
    kinds = [e.kind for e in cleaned.elements]
    assert demoted == 2
    assert kinds[1] is ElementKind.PARAGRAPH and cleaned.elements[1].meta["not_a_heading"] == "cover banner"
    assert kinds[2] is ElementKind.PARAGRAPH and cleaned.elements[2].meta["not_a_heading"] == "address"
    assert kinds[4] is kinds[6] is ElementKind.HEADING and kinds[0] is ElementKind.TITLE


def test_a_first_page_section_that_later_ones_close_stays_a_heading():
    elements = [
        _element(ElementKind.HEADING, "Abstract", 1, level=1),
        _element(ElementKind.PARAGRAPH, "We measure things.", 1),
        _element(ElementKind.HEADING, "1 Introduction", 1, level=1),
        _element(ElementKind.HEADING, "2 Method", 3, level=1),
    ]
    cleaned, demoted = demote_false_headings(_document(elements, pages=8))
    assert demoted == 0 and cleaned.elements[0].kind is ElementKind.HEADING
    _short, demoted = demote_false_headings(_document(elements[:2], pages=2))  # too short to have a cover
    assert demoted == 0


@pytest.mark.parametrize(
    ("text", "names_a_section"),
    [
        ("(續次頁)", False),
        ("單位：新台幣千元", False),
        ("董事長：", False),
        ("Continued", False),
        ("合併資產負債表", True),
        ("第一章 總則", True),
        ("Note 3: Revenue", True),
        ("1. Berths", True),
    ],
)
def test_continuation_marks_units_and_bare_labels_name_no_section(text, names_a_section):
    assert is_not_a_section(text) is not names_a_section
