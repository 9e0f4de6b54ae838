"""PDF understanding on the text layer: reading order, outline headings, tables, figures."""

from __future__ import annotations

from kbbuild.config import Settings
from kbbuild.parse.pdf.plugin import PdfParser
from kbbuild.parse.reading_order import xy_cut_order
from kbbuild.pipeline.discover import discover
from kbbuild.providers import ParseContext
from kbbuild.records import BBox, ElementKind, ExtractionMethod
from kbbuild.text.tables import grid_from_html, to_markdown

from .conftest import SAMPLES


def _parse(path):
    settings = Settings()
    return PdfParser().parse(discover(path, settings, {"pdf"}).sources[0], ParseContext(settings))


def test_two_columns_are_read_column_by_column():
    doc = _parse(SAMPLES / "lakeside_newsletter.pdf")
    texts = [e.text for e in doc.elements]
    order = [
        next(i for i, t in enumerate(texts) if t.startswith(key))
        for key in (
            "Lakeside Lab Newsletter",
            "New microscope",
            "ALPHA-ONE",
            "ALPHA-TWO",
            "ALPHA-THREE",
            "Safety drill",
            "BETA-ONE",
            "BETA-TWO",
            "BETA-THREE",
        )
    ]
    assert order == sorted(order)


def test_bookmarks_decide_heading_levels():
    doc = _parse(SAMPLES / "lakeside_newsletter.pdf")
    headings = {e.text: e.level for e in doc.elements if e.kind is ElementKind.HEADING}
    # Font statistics alone would say level 2 (smaller than the title); the outline says 1.
    assert headings == {"New microscope": 1, "Safety drill": 1}
    assert doc.title == "Lakeside Lab Newsletter, Spring Issue"


def test_ruled_table_is_one_element_with_header_markdown_and_html():
    doc = _parse(SAMPLES / "harbor_q3_2026_results.pdf")
    tables = [e for e in doc.elements if e.kind is ElementKind.TABLE]
    assert len(tables) == 1
    table = tables[0]
    assert table.method is ExtractionMethod.TABLE and table.page == 1
    assert table.meta["rows"] == 6 and table.meta["columns"] == 4 and table.meta["header_rows"] == 1
    lines = table.text.splitlines()
    assert lines[0] == "| Region | Q3 2025 revenue | Q3 2026 revenue | Change |"
    assert lines[1] == "|---|---|---|---|"
    assert "| APAC | 11.3 | 14.2 | +25.7% |" in lines
    rows, header_rows = grid_from_html(table.html)
    assert header_rows == 1 and rows[3] == ["APAC", "11.3", "14.2", "+25.7%"]
    assert "<th>Region</th>" in table.html
    # The cells are not also dissolved into loose paragraphs of numbers.
    prose = " ".join(e.text for e in doc.elements if e.kind is not ElementKind.TABLE)
    assert "11.3" not in prose and "Latin America" not in prose
    assert table.meta["caption"] == "Table 1: Revenue by region, in millions of US dollars."


def test_table_chunk_carries_its_caption():
    from kbbuild.chunk.structure import StructureChunking

    chunks = StructureChunking(_parse(SAMPLES / "harbor_q3_2026_results.pdf"), 180, 0).run()
    table_chunk = next(c for c in chunks if ElementKind.TABLE in c.kinds)
    assert table_chunk.text.startswith("Table 1: Revenue by region")
    assert "| Total | 55.1 | 60.6 | +10.0% |" in table_chunk.text


def test_figure_becomes_an_element_with_its_caption(tmp_path):
    from PIL import Image, ImageDraw

    from .pdfmaker import figure_pdf

    picture = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(picture).ellipse((50, 50, 350, 250), outline="black", width=6)
    intro = "The impeller is shown below; keep the vanes free of debris."
    path = figure_pdf(
        tmp_path / "figure.pdf", picture, intro, "Figure 1: Impeller seen from the suction side.", 450, 225
    )
    doc = _parse(path)
    figures = [e for e in doc.elements if e.kind is ElementKind.FIGURE]
    assert len(figures) == 1
    figure = figures[0]
    assert figure.meta["caption"] == "Figure 1: Impeller seen from the suction side."
    assert 70 <= figure.bbox.x0 <= 74 and 841.9 - 676 <= figure.bbox.y0 <= 841.9 - 674
    assert any(e.kind is ElementKind.CAPTION for e in doc.elements)


def test_xy_cut_reads_full_width_blocks_around_columns():
    boxes = [
        BBox(x0=0, y0=0, x1=600, y1=20),  # 0 title, full width
        BBox(x0=0, y0=30, x1=280, y1=100),  # 1 left column
        BBox(x0=320, y0=30, x1=600, y1=60),  # 2 right column, first
        BBox(x0=320, y0=70, x1=600, y1=100),  # 3 right column, second
        BBox(x0=0, y0=110, x1=600, y1=150),  # 4 full-width table
        BBox(x0=0, y0=160, x1=280, y1=200),  # 5 left column below the table
        BBox(x0=320, y0=160, x1=600, y1=200),  # 6 right column below the table
    ]
    assert xy_cut_order(boxes) == [0, 1, 2, 3, 4, 5, 6]


def test_markdown_from_html_expands_spans_and_keeps_header_rows():
    html = (
        "<table><tr><th rowspan=2>Item</th><th colspan=2>Amount</th></tr>"
        "<tr><th>2025</th><th>2026</th></tr><tr><td>Revenue</td><td>1|0</td><td>12</td></tr></table>"
    )
    rows, header_rows = grid_from_html(html)
    assert header_rows == 2
    assert rows == [["Item", "Amount", "Amount"], ["Item", "2025", "2026"], ["Revenue", "1|0", "12"]]
    assert to_markdown(rows, header_rows).splitlines() == [
        "| Item | Amount 2025 | Amount 2026 |",
        "|---|---|---|",
        "| Revenue | 1\\|0 | 12 |",
    ]


def test_parallel_page_ranges_give_the_same_document(tmp_path):
    """Long PDFs are read by worker processes in page ranges; the result must not depend on it."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    from kbbuild.parse.pdf.textlayer import PARALLEL_MIN_PAGES, read_text_layer

    styles = getSampleStyleSheet()
    story = []
    for page in range(1, PARALLEL_MIN_PAGES + 3):
        story += [
            Paragraph(f"{page} Section {page}", styles["Heading1"]),
            Paragraph(f"Body text of page {page} about valve {page * 7}.", styles["BodyText"]),
            PageBreak(),
        ]
    path = tmp_path / "long.pdf"
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    seen: list[int] = []
    parallel = read_text_layer(path, 1.15, seen.append, workers=2)
    sequential = read_text_layer(path, 1.15, lambda n: None, workers=1)
    assert parallel == sequential
    assert sorted(seen) == list(range(1, PARALLEL_MIN_PAGES + 3))
    assert [e.page for e in parallel[0]] == sorted(e.page for e in parallel[0])


def _assert_engines_agree(pdf):
    from kbbuild.parse.pdf.textlayer import read_text_layer

    fast = read_text_layer(pdf, 1.15, lambda n: None, workers=1, engine="pdfium")
    slow = read_text_layer(pdf, 1.15, lambda n: None, workers=1, engine="pdfminer")

    def shape(result):
        return [(e.page, e.kind, e.level, " ".join(e.text.split())) for e in result[0]]

    assert shape(fast) == shape(slow), pdf.name
    assert fast[2] == slow[2]
    for a, b in zip(fast[0], slow[0], strict=True):
        if a.bbox and b.bbox:  # same boxes to within a couple of points
            assert abs(a.bbox.x0 - b.bbox.x0) < 3 and abs(a.bbox.y0 - b.bbox.y0) < 4, (pdf.name, a.text)
    return fast[0]


def test_pdfium_and_pdfminer_characters_give_the_same_structure():
    """The fast path only changes where characters come from; pdfminer's layout analysis still groups
    them, so both engines must agree on every sample: texts, kinds, heading levels, pages."""
    for pdf in sorted(SAMPLES.glob("*.pdf")):
        _assert_engines_agree(pdf)


def test_scaled_fonts_and_rotated_pages_read_like_pdfminer(tmp_path):
    """Text set at ``1 Tf`` and scaled by the matrix, and a page stored sideways (/Rotate 90):
    pdfium reports both in raw terms; the fast engine must still find the lines, the heading and
    the rotated page's table, as pdfminer does."""
    from .pdfmaker import awkward_text_pdf

    elements = _assert_engines_agree(awkward_text_pdf(tmp_path / "awkward.pdf"))
    by_page = {page: [e for e in elements if e.page == page] for page in (1, 2)}
    assert by_page[1][0].kind is ElementKind.TITLE and by_page[1][0].text == "Scaled Heading"
    assert len(by_page[1]) == 2  # the four body lines are one paragraph, not four one-point slivers
    assert "irretrie-\nvably" in by_page[1][1].text  # the line-end hyphen survives (pdfium codes it 0x02)
    assert [e.kind for e in by_page[2]] == [ElementKind.HEADING, ElementKind.TABLE]
    table = by_page[2][1]
    assert "| North | 120 | 4,310 |" in table.text and table.bbox.x1 - table.bbox.x0 > table.bbox.y1 - table.bbox.y0


def test_word_breaks_without_space_glyphs_survive_in_table_cells(tmp_path):
    """Words placed 2.5 pt apart with no space glyph: pdfplumber's cell text needs a 3 pt gap, so
    pdfminer's characters lose these spaces; the pdfium engine keeps pdfium's word breaks."""
    from kbbuild.parse.pdf.textlayer import read_text_layer

    from .pdfmaker import positioned_words_table_pdf

    elements = read_text_layer(positioned_words_table_pdf(tmp_path / "w.pdf"), 1.15, lambda n: None, 1, "pdfium")[0]
    table = next(e for e in elements if e.kind is ElementKind.TABLE)
    assert "Refer to Note 2 for revenue" in table.text and "Sold through distributors" in table.text
