"""kbbuild's cell extraction gives exactly pdfplumber's ``Table.extract()``, on real tables."""

from __future__ import annotations

import pdfplumber

from kbbuild.parse.pdf.tables import extract_cells

from .conftest import SAMPLES


def test_cells_equal_pdfplumbers_on_the_sample_tables():
    compared = 0
    with pdfplumber.open(SAMPLES / "harbor_q3_2026_results.pdf") as pdf:
        for page in pdf.pages:
            for settings in ({}, {"vertical_strategy": "text", "horizontal_strategy": "text"}):
                for table in page.find_tables(settings):
                    assert extract_cells(table) == table.extract()
                    compared += 1
    assert compared >= 3


def test_objects_built_from_pdfium_equal_pdfplumbers_own():
    """The table finder sees the same characters, lines and boxes whichever way they were built."""
    import pypdfium2
    from pdfminer.layout import LAParams

    from kbbuild.parse.pdf.pdfium_chars import read_page
    from kbbuild.parse.pdf.plumber_objects import plumber_objects
    from kbbuild.parse.pdf.textlayer import LAPARAMS

    pages = 0
    for name in ("harbor_q3_2026_results.pdf", "northwind_field_manual.pdf", "xinghe_travel_policy_zh.pdf"):
        path = SAMPLES / name
        document = pypdfium2.PdfDocument(path)
        with pdfplumber.open(path, laparams=LAPARAMS) as pdf:
            for number, page in enumerate(pdf.pages):
                layout = read_page(document[number], number + 1).layout_page
                layout.analyze(LAParams(**LAPARAMS))
                page._layout = layout
                built = plumber_objects(page, layout)
                assert built == page.parse_objects()
                assert built["char"]
                pages += 1
        document.close()
    assert pages >= 5
