"""Statements that both table finders read in fragments come out row by row, rebuilt from the
position of every word (``parse.pdf.statement_grid``): codes, labels and notes in columns of their
own, one amount per cell, and each column headed by its own name under the spanning phrases that
start at it."""

from __future__ import annotations

import pdfplumber
import pytest

from kbbuild.parse.pdf.statement_grid import grid_wins, single_amount_cells, statement_grids
from kbbuild.parse.pdf.textlayer import LAPARAMS, read_text_layer
from kbbuild.records import ElementKind
from tests.pdfmaker import equity_statement_pdf


@pytest.fixture(scope="module")
def equity_pdf(tmp_path_factory):
    return equity_statement_pdf(tmp_path_factory.mktemp("equity") / "153.pdf")


@pytest.fixture(scope="module")
def elements(equity_pdf):
    return read_text_layer(equity_pdf, 1.15, lambda _page: None, 1)[0]


def _table(elements):
    tables = [e for e in elements if e.kind is ElementKind.TABLE]
    assert len(tables) == 1, [t.text[:80] for t in tables]
    return tables[0]


def test_a_landscape_equity_statement_is_one_table_row_by_row(elements):
    table = _table(elements)
    assert table.meta["strategy"] == "grid"
    lines = table.text.splitlines()
    opening = "| A1 | 111年1月1日餘額 |  | 5,461,792 | 2,818,336 | 12,544,333 | 42,338,324 | (496,286) | 62,666,509 |"
    assert lines[2] == opening
    assert "| D1 | 111年前三季淨利 |  | - | - | - | 12,667,726 | - | 12,667,726 |" in lines
    # A label wrapped over two lines, its amounts on the second, is one row under its code.
    assert "| D3 | 111年前三季稅後其他綜合損益 |  | - | - | - | - | (149,548) | (149,548) |" in lines
    # A section line keeps its note in the note column.
    assert "|  | 盈餘指撥及分派： | 六(二十八) |  |  |  |  |  |  |" in lines
    closing = "| Z1 | 111年9月30日餘額 |  | 5,461,792 | 2,818,336 | 13,925,963 | 44,339,374 | (645,834) | 65,899,631 |"
    assert lines[-1] == closing
    assert table.meta["rows"] == 8 and table.meta["columns"] == 9


def test_a_spanning_phrase_heads_the_first_of_its_columns_and_each_column_has_its_own_name(elements):
    """Written once, as printed: repeated in every column the header outweighs the rows in a chunk."""
    header = [cell.strip() for cell in _table(elements).text.splitlines()[0].strip("|").split("|")]
    assert header == [
        "代碼",
        "",
        "附註",
        "歸屬於母公司業主之權益 / 普通股股本",  # spread one character per column over five columns
        "資本公積",
        "保留盈餘 / 法定盈餘公積",  # underlined over two columns
        "未分配盈餘",
        "國外營運機構財務報表換算之兌換差額",  # a name wrapped over two lines
        "權益總額",  # outside the spanning phrase's underline
    ]


def test_the_title_block_is_the_caption_and_text_around_the_table_stays_prose(elements):
    assert _table(elements).meta["caption"].startswith("和泰汽車股份有限公司及子公司 合併權益變動表")
    prose = " ".join(e.text for e in elements if e.kind is not ElementKind.TABLE)
    assert "後附合併財務報表附註為本合併財務報告之一部分" in prose and "會計主管：陳亭汝" in prose
    assert "民國111年1月1日至9月30日" in prose  # nothing the finders' tables held is lost
    for inside in ("111年前三季淨利", "12,667,726", "歸", "普通股股本"):
        assert inside not in prose


def test_the_grid_is_found_on_pdfminers_own_layout_too(equity_pdf):
    """The pdfminer path (pages pdfium cannot read) builds the same grid from the same words."""
    with pdfplumber.open(equity_pdf, laparams=LAPARAMS) as pdf:
        grids = statement_grids(pdf.pages[0].layout)
    assert len(grids) == 1
    assert grids[0].rows[1][:4] == ["A1", "111年1月1日餘額", "", "5,461,792"]


def test_prose_with_figures_and_a_list_of_years_are_not_statements(tmp_path):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = tmp_path / "prose.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("Helvetica", 10)
    y = 780
    for index in range(12):  # sentences that end in figures, set across the page
        pdf.drawString(72, y, f"Revenue of segment {index} grew over the quarter to 1,{index}05 and 2,{index}10")
        y -= 14
    for year in range(2015, 2023):  # a narrow list of years with one figure each
        pdf.drawString(72, y, f"{year}")
        pdf.drawRightString(200, y, f"{year - 1000:,}")
        y -= 14
    pdf.showPage()
    pdf.save()
    with pdfplumber.open(path, laparams=LAPARAMS) as plumber:
        assert statement_grids(plumber.pages[0].layout) == []


def test_the_grid_replaces_the_finders_tables_only_where_it_reads_more():
    good = [["", "2023", "2022"], ["Revenue", "1,204", "1,100"], ["Cost", "(800)", "(700)"], ["Profit", "404", "400"]]
    merged = [["", "2023 2022"], ["Revenue", "1,204 1,100"], ["Cost", "(800) (700)"], ["Profit", "404 400"]]
    unlabelled = [["", "2023", "2022"], ["", "1,204", "1,100"], ["", "(800)", "(700)"], ["", "404", "400"]]
    assert single_amount_cells(good) == 6
    assert single_amount_cells(merged) == 0 and single_amount_cells(unlabelled) == 0
    assert grid_wins(good, [merged]) and grid_wins(good, [unlabelled])
    assert not grid_wins(good, [good])  # a tie with one table: the finder's table stays
    assert grid_wins(good, [good[:2], [good[0], *good[2:]]])  # as many, where the finder broke it up


def _reconciliation_pdf(path):
    """Two periods of four columns each under centred spanning phrases, and a label wrapped onto a
    line of its own that goes on in lower case (as AMCOR's fiscal 2023 earnings release sets them)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("Helvetica", 8)
    rights = [270, 310, 350, 390, 450, 490, 530, 570]
    for first, period in ((0, "Twelve Months Ended June 30, 2022"), (4, "Twelve Months Ended June 30, 2023")):
        left = rights[first] - 40 if first == 0 else rights[first - 1] + 4  # where the period's columns begin
        pdf.drawCentredString((left + rights[first + 3]) / 2, 760, period)
    pdf.drawString(60, 745, "($ million)")
    for right, name in zip(rights, ["EBITDA", "EBIT", "Income", "EPS"] * 2, strict=True):
        pdf.drawRightString(right, 745, name)
    rows = [
        ("Net income attributable to Amcor", ["805", "805", "805", "52.9", "1,048", "1,048", "1,048", "70.5"]),
        ("Net income attributable to non-controlling", None),
        ("interests", ["10", "10", "", "", "10", "10", "", ""]),
        ("Tax expense", ["300", "300", "", "", "193", "193", "", ""]),
        ("Interest expense, net", ["135", "135", "", "", "259", "259", "", ""]),
        ("Adjusted EBITDA, EBIT, Net income and EPS",
         ["2,117", "1,701", "1,224", "80.5", "2,018", "1,608", "1,089", "73.3"]),
    ]  # fmt: skip
    y = 730
    for label, amounts in rows:
        pdf.drawString(60, y, label)
        for right, amount in zip(rights, amounts or [""] * len(rights), strict=True):
            pdf.drawRightString(right, y, amount)
        y -= 12 if amounts is None else 15
    pdf.showPage()
    pdf.save()
    return path


def test_a_reconciliation_reads_its_periods_once_and_joins_a_label_that_goes_on_in_lower_case(tmp_path):
    path = _reconciliation_pdf(tmp_path / "reconciliation.pdf")
    with pdfplumber.open(path, laparams=LAPARAMS) as pdf:
        grids = statement_grids(pdf.pages[0].layout)
    assert len(grids) == 1
    header, *rows = grids[0].rows
    assert header == [
        "($ million)",
        "Twelve Months Ended June 30, 2022 / EBITDA", "EBIT", "Income", "EPS",
        "Twelve Months Ended June 30, 2023 / EBITDA", "EBIT", "Income", "EPS",
    ]  # fmt: skip
    assert ["Net income attributable to non-controlling interests", "10", "10", "", "", "10", "10", "", ""] in rows
    assert rows[-1][0] == "Adjusted EBITDA, EBIT, Net income and EPS" and rows[-1][5] == "2,018"
    assert len(rows) == 5
