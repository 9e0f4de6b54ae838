"""Whose document a chunk comes from survives furniture stripping: a running header that names the
company and the period is stripped from the body, yet every chunk of the document carries it, the
full-text index finds the document by it, the embedded text has it and hits show it."""

from __future__ import annotations

import json

from kbbuild.clean.identity import document_identity
from kbbuild.records import BBox, Document, Element, ElementKind, ExtractionMethod, PageInfo, SourceFile

from .pdfmaker import two_page_statement_pdf

COMPANY, PERIOD = "瑞昱半導體股份有限公司", "民國一一二年三月三十一日"


def _element(kind: ElementKind, text: str, box: tuple[float, float, float, float] | None, page: int = 1) -> Element:
    bbox = BBox(x0=box[0], y0=box[1], x1=box[2], y1=box[3]) if box else None
    return Element(kind=kind, text=text, page=page, bbox=bbox, parser="test", method=ExtractionMethod.TEXT_LAYER)


def _document(name: str, elements: list[Element], metadata: dict[str, str] | None = None) -> Document:
    source = SourceFile(path=f"/docs/{name}", relpath=name, sha256="-", size=1, format="pdf")
    pages = tuple(PageInfo(number=n, width=600, height=800, n_chars=500, has_text_layer=True) for n in (1, 2))
    return Document(source=source, parser="test", elements=tuple(elements), pages=pages, metadata=metadata or {})


def test_identity_is_gathered_from_headers_letterhead_properties_and_file_name():
    elements = [
        _element(ElementKind.PAGE_HEADER, "Northwind Pumps Inc. | Q3 2023 Form 10-Q", (40, 20, 560, 30)),
        _element(ElementKind.PAGE_HEADER, "Northwind Pumps Inc. | Q3 2023 Form 10-Q", (40, 20, 560, 30), page=2),
        _element(ElementKind.PAGE_HEADER, "Exhibit 31.1", (40, 20, 560, 30), page=2),  # on too few pages
        _element(ElementKind.PAGE_HEADER, "Table of Contents", (40, 35, 560, 45)),  # navigation: never identity
        _element(ElementKind.PAGE_HEADER, "Table of Contents", (40, 35, 560, 45), page=2),
        _element(ElementKind.PAGE_NUMBER, "12", (290, 780, 310, 790)),
        _element(ElementKind.PARAGRAPH, "Condensed Consolidated Balance Sheets", (180, 60, 420, 80)),  # letterhead
        _element(ElementKind.PARAGRAPH, "A long body paragraph " * 8, (40, 100, 560, 200)),  # spans the text width
        _element(ElementKind.PARAGRAPH, "Centred later on", (250, 300, 350, 320)),  # the head has ended
    ]
    metadata = {"title": "Microsoft Word - q3.docx", "subject": "Quarterly report"}
    identity = document_identity(_document("NWP_2023_Q3_10Q.pdf", elements, metadata))
    assert identity == (
        "Northwind Pumps Inc. | Q3 2023 Form 10-Q",
        "Condensed Consolidated Balance Sheets",
        "Quarterly report",
        "NWP 2023 Q3 10Q",
    )
    numbered = document_identity(_document("772.pdf", elements[5:6]))  # a number is no name
    assert numbered == ()


def test_a_two_page_statement_is_found_by_the_company_in_its_running_header(tmp_path, cli):
    docs = tmp_path / "docs"
    docs.mkdir()
    two_page_statement_pdf(docs / "2379.pdf", COMPANY, PERIOD)
    kb = tmp_path / "kb"
    assert cli("ingest", docs, "--kb", kb, "--no-progress").exit_code == 0

    from kbbuild import KB

    store = KB.open(kb)
    rows = store.chunks_table(store.manifest()).to_arrow().to_pylist()
    assert rows and all(COMPANY in row["document"] and PERIOD in row["document"] for row in rows)
    assert not any(COMPANY in row["text"] for row in rows)  # still furniture: not in the body
    assert all("瑞昱" in row["search_text"].split() or "瑞昱半導體" in row["search_text"] for row in rows)

    found = cli("query", "瑞昱半導體 存貨", "--kb", kb, "--mode", "fts", "-k", "3", "--json")
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert hits and hits[0]["source"] == "2379.pdf" and COMPANY in hits[0]["document"]
    shown = cli("query", "瑞昱半導體 存貨", "--kb", kb, "--mode", "fts", "-k", "1")
    assert COMPANY in shown.output


def test_the_document_line_is_embedded_in_front_of_the_heading_path(tmp_path):
    from kbbuild.records import Chunk

    chunk = Chunk(
        id="x",
        source="a.pdf",
        source_sha256="-",
        chunk_index=0,
        text="Inventories rose.",
        heading_path=("Balance sheet",),
        n_tokens=3,
        document="Northwind Pumps Inc. · Q3 2023",
    )
    assert chunk.embedding_text(True) == "Northwind Pumps Inc. · Q3 2023\nBalance sheet\nInventories rose."
    assert chunk.embedding_text(False) == "Northwind Pumps Inc. · Q3 2023\nInventories rose."
    assert chunk.search_words().startswith("Northwind Pumps Inc. · Q3 2023 Balance sheet")
