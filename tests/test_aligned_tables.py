"""Unruled statements that layout analysis cuts into column blocks come out as tables, row by row
(``parse.pdf.aligned``): each label with its amounts, period headers on top, negative amounts whole;
text beside them that is not a column of amounts stays prose."""

from __future__ import annotations

import pytest

from kbbuild.parse.pdf.aligned import aligned_tables, header_rows, is_amount
from kbbuild.parse.pdf.textlayer import read_text_layer
from kbbuild.records import ElementKind
from tests.pdfmaker import column_statement_pdf


@pytest.fixture(scope="module")
def elements(tmp_path_factory):
    pdf = column_statement_pdf(tmp_path_factory.mktemp("statement") / "391.pdf")
    return read_text_layer(pdf, 1.15, lambda _page: None, 1)[0]


def test_a_statement_cut_into_columns_is_one_table_row_by_row(elements):
    tables = [e for e in elements if e.kind is ElementKind.TABLE]
    assert len(tables) == 1 and tables[0].meta["strategy"] == "aligned"
    lines = tables[0].text.splitlines()
    assert lines[0] == "|  | 112年1至3月 | 111年1至3月 |"  # the periods head the table...
    assert lines[2] == "| 現金流量表 |  |  |"  # ...a line of labels alone is a section of it, not its header
    assert "| 營業活動之淨現金流入 | 3,465,093 | 5,386,162 |" in lines
    assert "| 投資活動之淨現金流出 | (4,844,175) | (3,395,771) |" in lines
    assert lines[-1] == "| 期末現金及約當現金餘額 | 44,082,471 | 44,506,092 |"
    assert tables[0].meta["rows"] == 7 and tables[0].meta["columns"] == 3
    # The page's centred title block names the statement in every piece the chunker cuts from it.
    assert tables[0].meta["caption"] == "遠航物流股份有限公司 合併現金流量表"


def test_text_beside_the_table_stays_prose(elements):
    prose = " ".join(e.text for e in elements if e.kind is ElementKind.PARAGRAPH)
    assert "註：本表金額以新台幣仟元為單位" in prose
    for sentence in ("The terminal handled 1,204 calls in the quarter.", "Tugs are booked a day ahead."):
        assert sentence in prose
    assert "營業活動之淨現金流入" not in prose and "3,465,093" not in prose


class _Block:
    def __init__(self, lines: list[str], x0: float, top: float, pitch: float = 14, width: float = 60) -> None:
        self.lines = lines
        self.line_boxes = [(x0, top - (i + 1) * pitch, x0 + width, top - i * pitch - 2) for i in range(len(lines))]
        self.bbox = (x0, self.line_boxes[-1][1], x0 + width, top)


def test_columns_of_words_or_stacked_blocks_are_not_tables():
    words = [_Block(["Berths", "Cranes", "Tugs"], 72, 700), _Block(["open", "closed", "booked"], 300, 700)]
    assert aligned_tables(words) == []
    stacked = [_Block(["1,204", "3,455"], 72, 700), _Block(["9,876", "5,432"], 72, 660)]
    assert aligned_tables(stacked) == []


def test_a_statement_without_a_header_row_gets_an_empty_one():
    """Split by rows over the chunk budget, a table repeats its header: a section name taken for
    the header ("流動負債") would then head every piece of the statement."""
    rows = [["流動負債", "", ""], ["短期借款", "1,387,775", "2,076,762"], ["應付票據", "5,975", "1,406"]]
    assert header_rows(rows) == 0
    assert header_rows([["", "112年3月31日", "111年12月31日"], *rows]) == 1


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("3,465,093", True),
        ("(4,844,175)", True),
        ("$ 1,900,674", True),
        ("12.5%", True),
        ("-", True),
        ("112年1至3月", False),
        ("Note 6", False),
        ("", False),
    ],
)
def test_what_counts_as_an_amount(text, amount):
    assert is_amount(text) is amount
