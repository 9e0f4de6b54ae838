"""The pdfminer.six text layer: pages, boxes, fonts, headings and page classification."""

from __future__ import annotations

import pytest

from kbbuild.config import Settings
from kbbuild.errors import InputError
from kbbuild.parse.pdf.plugin import PdfParser
from kbbuild.pipeline.discover import discover
from kbbuild.providers import ParseContext
from kbbuild.records import ElementKind

from .conftest import SAMPLES


def _parse(name: str):
    found = discover(SAMPLES / name, Settings(), {"pdf"})
    pages_seen: list[int] = []
    doc = PdfParser().parse(found.sources[0], ParseContext(Settings(), pages_seen.append))
    return doc, pages_seen


def test_elements_carry_page_box_and_font():
    doc, pages_seen = _parse("northwind_field_manual.pdf")
    assert pages_seen == [1, 2, 3, 4]
    assert [p.number for p in doc.pages] == [1, 2, 3, 4]
    for element in doc.elements:
        page = doc.pages[element.page - 1]
        box = element.bbox
        assert 0 <= box.x0 < box.x1 <= page.width and 0 <= box.y0 < box.y1 <= page.height
        assert element.font_size and element.parser == "pdf"
    sensor = next(e for e in doc.elements if "recalibrate" in e.text)
    assert sensor.page == 3 and sensor.kind is ElementKind.PARAGRAPH and sensor.font_size == 10.5
    # Top-left origin: the running header is above (smaller y) the body text on the same page.
    header = next(e for e in doc.elements if e.page == 3 and e.text.startswith("Northwind Pumps -"))
    assert header.bbox.y1 < sensor.bbox.y0


def test_title_and_heading_levels_come_from_font_statistics_and_numbering():
    doc, _ = _parse("northwind_field_manual.pdf")
    assert doc.title == "Northwind Pumps Field Service Manual"
    headings = {e.text: e.level for e in doc.elements if e.kind is ElementKind.HEADING}
    assert headings["3 Maintenance schedule"] == 1
    assert headings["3.1 Pressure sensor calibration"] == 2
    assert headings["4.1 Error codes"] == 2
    assert not any(e.kind is ElementKind.HEADING and "recalibrate" in e.text for e in doc.elements)


def test_chinese_chapter_and_item_numbering_give_levels():
    doc, _ = _parse("xinghe_travel_policy_zh.pdf")
    headings = {e.text: e.level for e in doc.elements if e.kind is ElementKind.HEADING}
    assert headings["第三章 住宿标准"] == 1
    assert headings["二、市内交通"] == 2
    assert doc.title == "星河科技有限公司差旅费用管理办法"


def test_image_only_page_is_classified_as_scanned():
    doc, _ = _parse("riverside_scanned_notice.pdf")  # no registry given: parsed without OCR
    first, second = doc.pages
    assert first.has_text_layer and not first.looks_scanned
    assert not second.has_text_layer and second.looks_scanned and second.image_area_ratio > 0.9
    assert doc.pages_without_text == (2,)
    assert not [e for e in doc.elements if e.page == 2]
    assert "were not OCRed" in doc.warnings[0]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n", "corrupt PDF"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, "corrupt PDF"),
    ],
)
def test_broken_pdfs_raise_input_errors(tmp_path, content, reason):
    path = tmp_path / "broken.pdf"
    path.write_bytes(content)
    source = discover(path, Settings(), {"pdf"}).sources[0]
    with pytest.raises(InputError, match=reason):
        PdfParser().parse(source, ParseContext(Settings()))


def test_discovery_sniffs_content_not_extensions(tmp_path):
    (tmp_path / "real.bin").write_bytes((SAMPLES / "harbor_q3_2026_results.pdf").read_bytes())
    (tmp_path / "fake.pdf").write_text("<html><body>404</body></html>")
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / ".hidden.pdf").write_bytes((SAMPLES / "harbor_q3_2026_results.pdf").read_bytes())
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    found = discover(tmp_path, Settings(), {"pdf"})
    assert [s.relpath for s in found.sources] == ["real.bin"] and found.sources[0].format == "pdf"
    reasons = {f.relpath: f.error for f in found.failures}
    assert reasons == {
        "fake.pdf": "named .pdf but it is not a PDF (no %PDF header; looks like HTML)",
        "empty.pdf": "empty file (0 bytes)",
    }
    assert found.unsupported == ["photo.png"]


def test_numbers_in_a_large_font_are_not_headings():
    from kbbuild.parse.pdf.textlayer import _Block, _is_heading_shaped

    def block(text):
        return _Block(
            page=1, lines=[text], bbox=(0, 0, 1, 1), size=14, bold=True, n_chars=len(text), line_boxes=[(0, 0, 1, 1)]
        )

    assert not _is_heading_shaped(block("933 $"))
    assert not _is_heading_shaped(block("2,345.6"))
    assert _is_heading_shaped(block("Item 7. Management's Discussion"))
    assert _is_heading_shaped(block("第三章 住宿标准"))
