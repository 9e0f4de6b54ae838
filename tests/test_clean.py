"""Cleaning: running furniture, personal data, noise; on real PDFs through the real parser."""

from __future__ import annotations

import json

import pytest

from kbbuild.clean.furniture import furniture_key, page_number_value
from kbbuild.clean.pii import redact, valid_card, valid_cn_id
from kbbuild.clean.quality import is_noise
from kbbuild.config import Settings
from kbbuild.parse.pdf.plugin import PdfParser
from kbbuild.pipeline.discover import discover
from kbbuild.plugins import Registry, make_plugin_manager
from kbbuild.providers import ParseContext
from kbbuild.records import ElementKind

from .conftest import SAMPLES
from .pdfmaker import running_furniture_pdf

REGISTRY = Registry.from_plugin_manager(make_plugin_manager())
ALL_PII = ["email", "phone", "cn_id", "bank_card", "ip"]


def _clean(path, settings=None):
    settings = settings or Settings()
    document = PdfParser().parse(
        discover(path, settings, {"pdf"}).sources[0], ParseContext(settings, registry=REGISTRY)
    )
    for cleaner in REGISTRY.cleaners:
        document = cleaner.clean(document, settings)
    return document


def _chunks(document, settings=None):
    chunker = REGISTRY.named("chunkers", "structure")
    return chunker.chunk(document, settings or Settings())


@pytest.mark.parametrize("chinese", [False, True])
def test_running_headers_footers_and_watermarks_leave_the_chunks(tmp_path, chinese):
    path = running_furniture_pdf(tmp_path / "report.pdf", pages=5, chinese=chinese)
    document = _clean(path)
    header = "远航物流集团 2025 年度报告" if chinese else "Acme Logistics Group - Annual Report 2025"
    counts = document.cleaning
    assert (counts.headers, counts.watermarks) == (5, 4)
    assert counts.page_numbers + counts.footers == 5 and counts.page_numbers == 5
    text = "\n".join(chunk.text for chunk in _chunks(document))
    # The header's words survive inside the five body sentences, and nowhere else.
    assert text.count(header) == 5
    for page in range(1, 6):
        assert (f"第 {page} 页" if chinese else f"Page {page} of 5") not in text
    assert ("内部草稿" if chinese else "DRAFT") not in text
    # A body line in the top band of one page is not a header.
    assert ("第三部分从本页顶部开始" if chinese else "Part three starts right at the top") in text
    # Stripped, not lost: the furniture stays in the document as furniture elements.
    kinds = {e.kind for e in document.elements if header == e.text}
    assert kinds == {ElementKind.PAGE_HEADER}


def test_samples_lose_their_furniture_but_keep_their_titles():
    for name, furniture, title in (
        ("northwind_field_manual.pdf", "Page 2 of 4", "Northwind Pumps Field Service Manual"),
        ("xinghe_travel_policy_zh.pdf", "— 2 —", None),
    ):
        document = _clean(SAMPLES / name)
        assert document.cleaning.furniture >= 6
        text = "\n".join(chunk.text for chunk in _chunks(document))
        assert furniture not in text
        if title:
            assert document.title == title and any(e.kind is ElementKind.TITLE for e in document.elements)


def test_a_short_documents_title_is_not_taken_for_a_header():
    """Two pages: the layout model judges furniture, and it calls this title a "header"."""
    document = _clean(SAMPLES / "riverside_scanned_notice.pdf")
    assert document.title == "Riverside Campus Facilities: Scanned Notices"
    assert document.cleaning.furniture == 0
    assert document.elements[0].kind is ElementKind.TITLE


def test_keep_headers_turns_stripping_off(tmp_path):
    settings = Settings()
    settings.clean.strip_furniture = False
    document = _clean(running_furniture_pdf(tmp_path / "r.pdf"), settings)
    assert document.cleaning.furniture == 0
    assert "Page 2 of 5" in "\n".join(chunk.text for chunk in _chunks(document, settings))


def test_page_number_forms_and_furniture_keys():
    assert [page_number_value(t) for t in ("Page 3 of 40", "— 12 —", "1-1-17", "xix", "第 2 页 共 9 页", "F-7")] == [
        3,
        12,
        17,
        19,
        2,
        7,
    ]
    assert page_number_value("Section 3") is None and page_number_value("Revenue 2024") is None
    assert furniture_key("Page 3 of 40") == furniture_key("PAGE 4 of 40.")


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("mail anna.berg@example.org now", "mail [EMAIL] now", "email"),
        ("手机 13812345678，请回电", "手机 [PHONE]，请回电", "phone"),
        ("座机 010-62345678", "座机 [PHONE]", "phone"),
        ("call +44 20 7946 0958 today", "call [PHONE] today", "phone"),
        ("身份证 11010519491231002X。", "身份证 [CN_ID]。", "cn_id"),
        ("card 6222 0212 3456 7890 128 ok", "card [BANK_CARD] ok", "bank_card"),
        ("host 192.168.1.20 and 2001:db8::1", "host [IP] and [IP]", "ip"),
    ],
)
def test_each_kind_of_personal_data_is_replaced(text, expected, kind):
    redacted, counts = redact(text, ALL_PII)
    assert redacted == expected and set(counts) == {kind}


def test_invalid_checksums_and_lookalikes_are_left_alone():
    assert not valid_cn_id("110105194912310021")  # check digit wrong
    assert not valid_cn_id("110105194913310025")  # month 13
    assert valid_cn_id("11010519491231002X")
    assert not valid_card("4111 1111 1111 1112") and valid_card("4111 1111 1111 1111")
    for text in (
        "Invoice 1234567890123456 dated 2024",
        "section 1.2.3.4 of the manual",
        "ID 110105194912310021 (bad check)",
        "amount 13,812,345.67 yuan",
        "call 12345",
    ):
        assert redact(text, ALL_PII) == (text, {}), text


def test_redact_pii_from_the_cli_counts_per_kind(tmp_path, cli):
    from reportlab.pdfgen import canvas

    docs = tmp_path / "docs"
    docs.mkdir()
    pdf = canvas.Canvas(str(docs / "contacts.pdf"))
    pdf.setFont("Helvetica", 11)
    pdf.drawString(72, 760, "Contacts")
    pdf.drawString(72, 730, "Write to anna.berg@example.org or call +44 20 7946 0958.")
    pdf.drawString(72, 712, "Card on file: 4111 1111 1111 1111. Office router 10.20.30.40.")
    pdf.save()
    result = cli("ingest", docs, "--kb", tmp_path / "kb", "--redact-pii", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["counts"]["cleaning"]["pii"] == {"bank_card": 1, "email": 1, "ip": 1, "phone": 1}
    hits = json.loads(cli("query", "contact e-mail phone", "--kb", tmp_path / "kb", "--json").output)
    text = " ".join(hit["text"] for hit in hits)
    assert "[EMAIL]" in text and "[PHONE]" in text and "anna.berg" not in text and "7946" not in text


def test_noise_lines_are_symbols_not_short_markers():
    assert is_noise(". . . . . . . . . . . .", 0.5) and is_noise("-*-*-*-*-*-", 0.5)
    assert not is_noise("(a)", 0.5) and not is_noise("1.", 0.5) and not is_noise("Total: $ 1,200", 0.5)


def test_one_page_document_gets_its_header_from_the_layout_model(tmp_path):
    """No repetition on a single page: the PP-Structure layout model's header class decides, and
    only inside the top/bottom band. (This model finds the running header here, not the footer.)"""
    from .pdfmaker import journal_page_pdf

    path = journal_page_pdf(tmp_path / "journal.pdf")
    document = _clean(path)
    header = next(e for e in document.elements if e.text.startswith("Journal of Pump Engineering"))
    assert header.kind is ElementKind.PAGE_HEADER and header.meta["furniture"] == "layout"
    assert document.title == "Cavitation in small circulation pumps"
    text = "\n".join(chunk.text for chunk in _chunks(document))
    assert "Journal of Pump Engineering" not in text and "paragraph 2, line 14" in text
    settings = Settings()
    settings.clean.strip_furniture = False
    kept = _clean(path, settings)
    assert "Journal of Pump Engineering" in "\n".join(chunk.text for chunk in _chunks(kept, settings))


def test_near_empty_pages_lose_their_stray_fragments_unless_that_empties_the_document():
    from kbbuild.clean.quality import filter_quality
    from kbbuild.records import Document, Element, SourceFile

    source = SourceFile(path="/x/a.pdf", relpath="a.pdf", sha256="0" * 64, size=1, format="pdf")

    def doc(*texts_by_page):
        elements = tuple(
            Element(kind=ElementKind.PARAGRAPH, text=text, page=page, parser="t")
            for page, text in enumerate(texts_by_page, 1)
        )
        return Document(source=source, parser="t", elements=elements)

    options = Settings().clean
    cleaned = filter_quality(doc("A full page of real body text about pumps.", "x ~", "More body text here."), options)
    assert [e.page for e in cleaned.elements] == [1, 3] and cleaned.cleaning.near_empty_pages == 1
    alone = filter_quality(doc("Hi."), options)
    assert [e.text for e in alone.elements] == ["Hi."] and alone.cleaning.near_empty_pages == 0
    noisy = filter_quality(doc("Heading\n=*=*=*=*=*=*=\nContents ........ 3"), options)
    assert noisy.elements[0].text == "Heading\nContents 3" and noisy.cleaning.noise_lines == 1


def test_dot_leaders_leave_table_cells():
    from kbbuild.clean.quality import filter_quality
    from kbbuild.records import Document, Element, SourceFile

    source = SourceFile(path="/x/a.pdf", relpath="a.pdf", sha256="0" * 64, size=1, format="pdf")
    table = "| Item | 2015 |\n|---|---|\n| Goodwill.................... | 5,366,881 |\n| Cash . . . . . . . | 876.5 |"
    element = Element(kind=ElementKind.TABLE, text=table, page=1, parser="t")
    cleaned = filter_quality(Document(source=source, parser="t", elements=(element,)), Settings().clean)
    assert cleaned.elements[0].text == "| Item | 2015 |\n|---|---|\n| Goodwill | 5,366,881 |\n| Cash | 876.5 |"


def test_keep_headers_and_heading_path_flags_from_the_cli(tmp_path, cli):
    docs = tmp_path / "docs"
    docs.mkdir()
    running_furniture_pdf(docs / "report.pdf", pages=4)
    kb = tmp_path / "kb"
    result = cli("ingest", docs, "--kb", kb, "--keep-headers", "--no-heading-path", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["counts"]["cleaning"]["headers"] == 0 and report["files"][0]["furniture"] == []
    from kbbuild.store.kb import KB

    manifest = KB.open(kb).manifest()
    assert manifest.config["clean"]["strip_furniture"] is False
    assert manifest.config["chunk"]["embed_heading_path"] is False
    hits = json.loads(cli("query", "Page 2 of 4", "--kb", kb, "-k", "10", "--json").output)
    assert any("Page 2 of 4" in hit["text"] for hit in hits)
