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
