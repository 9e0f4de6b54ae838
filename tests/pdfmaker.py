"""Small PDFs made inside tests, for cases the bundled samples do not cover."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image


def cjk_font() -> str:
    """Reportlab's built-in Simplified Chinese font (a CID font: no font file needed), registered once."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def figure_pdf(path: Path, picture: Image.Image, text_above: str, caption: str, bottom: float, height: float) -> Path:
    """One A4 page: a line of text, the picture (72 pt from the left, ``bottom``/``height`` in pt)
    and a caption line 20 pt below it."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    buffer.seek(0)
    width = height * picture.width / picture.height
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("Helvetica", 11)
    pdf.drawString(72, 780, text_above)
    pdf.drawImage(ImageReader(buffer), 72, bottom, width=width, height=height)
    pdf.drawString(72, bottom - 20, caption)
    pdf.showPage()
    pdf.save()
    return path


def awkward_text_pdf(path: Path) -> Path:
    """Two pages of things typesetters do that a character reader must undo: page 1 sets its text
    with ``1 Tf`` scaled by the text matrix and breaks a word with a hyphen at a line end; page 2 is
    stored sideways with ``/Rotate 90`` and carries a ruled table."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    text = pdf.beginText()
    text.setFont("Helvetica-Bold", 1)
    text.setTextTransform(20, 0, 0, 20, 72, 760)
    text.textOut("Scaled Heading")
    pdf.drawText(text)
    body = [
        "Typesetters often write one-point fonts and scale them with the text",
        "matrix, so the size a reader sees is the product of both; this line is",
        "long enough to wrap, and the word irretrie-",
        "vably is broken across two lines by a hyphen.",
    ]
    for index, line in enumerate(body):
        text = pdf.beginText()
        text.setFont("Helvetica", 1)
        text.setTextTransform(10, 0, 0, 10, 72, 720 - 13 * index)
        text.textOut(line)
        pdf.drawText(text)
    pdf.showPage()
    pdf.setPageRotation(90)
    # Drawn in unrotated space, turned so it reads upright once the viewer applies /Rotate 90.
    pdf.translate(A4[0], 0)
    pdf.rotate(90)
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(72, 500, "Sideways page")
    rows = [
        ("Region", "Units", "Revenue"),
        ("North", "120", "4,310"),
        ("South", "95", "3,020"),
        ("East", "77", "2,655"),
    ]
    top, row_height, widths = 460, 22, (140, 90, 110)
    for index, row in enumerate(rows):
        x = 72
        for cell, width in zip(row, widths, strict=True):
            pdf.setFont("Helvetica-Bold" if index == 0 else "Helvetica", 10)
            pdf.drawString(x + 4, top - row_height * index - 15, cell)
            x += width
    x_positions = [72, 72 + widths[0], 72 + widths[0] + widths[1], 72 + sum(widths)]
    for index in range(len(rows) + 1):
        pdf.line(72, top - row_height * index, 72 + sum(widths), top - row_height * index)
    for x in x_positions:
        pdf.line(x, top, x, top - row_height * len(rows))
    pdf.showPage()
    pdf.save()
    return path


def running_furniture_pdf(path: Path, pages: int = 5, chinese: bool = False) -> Path:
    """A report whose pages carry a running header, a footer with a page counter and (on most
    pages) a DRAFT watermark; the body repeats the header's words in a sentence, and one page
    starts with a body line in the top band, which must survive."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = cjk_font() if chinese else "Helvetica"
    header = "远航物流集团 2025 年度报告" if chinese else "Acme Logistics Group - Annual Report 2025"
    width, height = A4
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for page in range(1, pages + 1):
        pdf.setFont(font, 9)
        pdf.drawString(72, height - 40, header)
        footer = f"第 {page} 页 共 {pages} 页" if chinese else f"Page {page} of {pages}"
        pdf.drawCentredString(width / 2, 30, footer)
        if page > 1:
            pdf.saveState()
            pdf.setFont(font, 40)
            pdf.translate(width / 2, height / 2)
            pdf.rotate(45)
            pdf.drawCentredString(0, 0, "内部草稿" if chinese else "DRAFT")
            pdf.restoreState()
        pdf.setFont(font, 11)
        y = height - 90
        if page == 3:
            top_line = (
                "第三部分从本页顶部开始，这一行是正文。"
                if chinese
                else "Part three starts right at the top of this page."
            )
            pdf.drawString(72, y, top_line)
            y -= 30
        body = (
            [
                f"第{page}节正文：{header}已经董事会审议通过，本节说明第{page}项业务。",
                "运输量与收入保持增长，成本得到控制。",
            ]
            if chinese
            else [
                f"Section {page} body: the {header} was approved by the board.",
                f"This page describes business line number {page} in some detail.",
            ]
        )
        for line in body:
            pdf.drawString(72, y - 300, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return path


def journal_page_pdf(path: Path) -> Path:
    """One page of a journal article: a running header line and a download footer in small type,
    two paragraphs of body text between them. Too short for repetition to reveal the furniture."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    width, height = A4
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("Helvetica", 8)
    pdf.drawString(72, height - 36, "Journal of Pump Engineering 12 (2025) 45-52")
    pdf.drawRightString(width - 72, height - 36, "ISSN 1234-5678")
    pdf.drawString(72, 30, "Downloaded from pumps.example.org on 1 May 2025")
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(72, height - 110, "Cavitation in small circulation pumps")
    pdf.setFont("Helvetica", 11)
    y = height - 150
    for paragraph in range(2):
        for line in range(14):
            text = f"Body text of paragraph {paragraph + 1}, line {line + 1}: cavitation erodes the impeller."
            pdf.drawString(72, y, text)
            y -= 15
        y -= 12
    pdf.showPage()
    pdf.save()
    return path


def positioned_words_table_pdf(path: Path) -> Path:
    """A ruled table whose cell text is set word by word with no space characters, 2.5 pt apart
    (as typesetters do with TJ offsets): readers must see the word breaks without a space glyph."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    rows = [
        ("Segment", "Description"),
        ("Safety", "Refer to Note 2 for revenue"),
        ("Health", "Sold through distributors"),
    ]
    top, height, widths = 700, 24, (120, 260)
    for r, row in enumerate(rows):
        x = 72
        for cell, width in zip(row, widths, strict=True):
            cursor = x + 4
            for word in cell.split():
                pdf.setFont("Helvetica", 9)
                pdf.drawString(cursor, top - height * r - 16, word)
                cursor += stringWidth(word, "Helvetica", 9) + 2.5
            x += width
    for r in range(len(rows) + 1):
        pdf.line(72, top - height * r, 72 + sum(widths), top - height * r)
    for x in (72, 72 + widths[0], 72 + sum(widths)):
        pdf.line(x, top, x, top - height * len(rows))
    pdf.showPage()
    pdf.save()
    return path


def notes_pdf(path: Path, number: int, sections: int = 4) -> Path:
    """A short memo with ``sections`` headed sections of distinct made-up prose (seeded by
    ``number``), so each file yields several chunks that no dedup rule merges."""
    import random

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    words = "harbor valve ledger audit pump crane tariff quota cargo invoice berth pilot dredge manifest gauge"
    words += " filter rotor tender permit hull ballast winch sensor turbine rail depot storage freight"
    words = words.split()
    rng = random.Random(number)
    height = A4[1]
    pdf = canvas.Canvas(str(path), pagesize=A4)
    y = height - 72
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(72, y, f"Memo {number}: {rng.choice(words).title()} operations")
    y -= 36
    for section in range(1, sections + 1):
        pdf.setFont("Helvetica-Bold", 13)
        pdf.drawString(72, y, f"{section}. {rng.choice(words).title()} {rng.choice(words)}")
        y -= 22
        pdf.setFont("Helvetica", 11)
        for _ in range(5):
            line = " ".join(rng.choice(words) for _ in range(11)) + f" {rng.randint(10, 9999)}."
            pdf.drawString(72, y, line.capitalize())
            y -= 15
        y -= 12
        if y < 140:
            pdf.showPage()
            y = height - 72
    pdf.save()
    return path


# The classic subset-font layout: glyph codes are the characters' code points minus 29.
GLYPH_SHIFT = 29


def _pdf_string(data: bytes) -> str:
    """A PDF literal string; every byte outside printable ASCII octal-escaped (raw CR/LF bytes in a
    string would be read back as a line feed)."""
    out = []
    for byte in data:
        if byte in b"()\\":
            out.append("\\" + chr(byte))
        elif 32 <= byte < 127:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    return "(" + "".join(out) + ")"


def unmapped_glyphs_pdf(path: Path, pages: list[list[tuple[bool, float, float, list[str]]]]) -> Path:
    """A PDF written object by object whose pages hold text blocks ``(shifted, x, y, lines)`` (12 pt,
    16 pt leading, ``y`` the first baseline from the bottom). Plain blocks are Helvetica. Shifted
    blocks are set in an embedded TrueType subset of Bitstream Vera (shipped inside reportlab) whose
    code for each character is its code point minus ``GLYPH_SHIFT``, with no ToUnicode map and no
    encoding, as old producers wrote subset fonts: the page shows the real words, while text
    extraction returns the codes ("The turbine" reads "7KH\\x03WXUELQH" in pdfium, "7KH(cid:3)WXUELQH"
    in pdfminer)."""
    import zlib

    import reportlab
    from reportlab.pdfbase.ttfonts import TTFontFile

    face = TTFontFile(str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"))
    characters = [code + GLYPH_SHIFT for code in range(127 - GLYPH_SHIFT)]  # font code -> Unicode
    program = zlib.compress(face.makeSubset(characters))
    widths = " ".join(str(int(face.charWidths.get(u, face.defaultWidth))) for u in characters)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the pages are numbered
        b"<< /Type /Font /Subtype /TrueType /BaseFont /AAAAAA+BitstreamVeraSans /FirstChar 0"
        + f" /LastChar {len(characters) - 1} /Widths [{widths}] /FontDescriptor 4 0 R >>".encode(),
        (
            "<< /Type /FontDescriptor /FontName /AAAAAA+BitstreamVeraSans /Flags 4"
            f" /FontBBox [{' '.join(map(str, face.bbox))}] /ItalicAngle 0 /Ascent {face.ascent}"
            f" /Descent {face.descent} /CapHeight {face.capHeight} /StemV 87 /FontFile2 5 0 R >>"
        ).encode(),
        f"<< /Length {len(program)} /Filter /FlateDecode >>\nstream\n".encode() + program + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    kids = []
    for blocks in pages:
        ops = []
        for shifted, x, y, lines in blocks:
            ops.append(f"BT /{'F1' if shifted else 'F2'} 12 Tf 16 TL {x} {y} Td")
            for line in lines:
                data = bytes(ord(c) - GLYPH_SHIFT for c in line) if shifted else line.encode("cp1252")
                ops.append(f"{_pdf_string(data)} Tj T*")
            ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {len(objects)} 0 R"
            " /Resources << /Font << /F1 3 0 R /F2 6 0 R >> >> >>".encode()
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def letter_spaced_chinese_pdf(path: Path) -> Path:
    """A Traditional Chinese statement page set the way many filings are: body text with
    letter-spacing (pdfminer reads `瑞 昱 半 導 體`), an auditor's name spread across its line, two
    column headings on one line far apart, and numbers and Latin text with their real spaces."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("MSung-Light"))
    _, height = A4
    pdf = canvas.Canvas(str(path), pagesize=A4)

    def spaced(x: float, y: float, text: str, size: float, char_space: float) -> None:
        line = pdf.beginText(x, y)
        line.setFont("MSung-Light", size)
        line.setCharSpace(char_space)
        line.textOut(text)
        line.setCharSpace(0)  # Tc is graphics state: it would outlive this text object
        pdf.drawText(line)

    spaced(72, height - 80, "瑞昱半導體股份有限公司", 16, 3)  # 0.19 em between characters
    spaced(72, height - 130, "本公司民國一一二年第一季合併財務報告業經董事會通過。", 11, 2.2)
    spaced(72, height - 160, "資誠聯合會計師事務所", 11, 16)  # spread across the line: 1.5 em
    spaced(72, height - 200, "流動資產", 11, 0)
    spaced(132, height - 200, "非流動資產", 11, 0)  # the same line, 1.5 em further right: a column
    spaced(72, height - 230, "Realtek Semiconductor Corp. 2023 Q1 營業收入 28,000 千元", 11, 0)
    pdf.showPage()
    pdf.save()
    return path


def two_page_statement_pdf(path: Path, company: str, period: str, title: str | None = None) -> Path:
    """A two-page Chinese financial statement whose company name and period are only in the running
    header (top band of both pages) and whose body names neither, as on real 1-3 page filings."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = cjk_font()
    width, height = A4
    pdf = canvas.Canvas(str(path), pagesize=A4)
    if title:
        pdf.setTitle(title)
    rows = [
        ("1100", "現金及約當現金", "12,345,678", "11,234,567"),
        ("1170", "應收帳款淨額", "3,456,789", "3,210,987"),
        ("1200", "存貨", "2,345,678", "2,109,876"),
        ("1600", "不動產、廠房及設備", "45,678,901", "44,567,890"),
        ("2100", "短期借款", "1,234,567", "1,111,111"),
        ("2170", "應付帳款", "987,654", "876,543"),
    ]
    for page in (1, 2):
        pdf.setFont(font, 10)
        pdf.drawCentredString(width / 2, height - 36, f"{company} {period}")
        pdf.drawCentredString(width / 2, 28, f"- {page} -")
        pdf.setFont(font, 11)
        y = height - 110
        pdf.drawString(72, y, "本表各項目之說明請詳附註；金額以新台幣仟元為單位。" if page == 1 else "負債部分如下。")
        y -= 30
        for code, label, now, before in rows[(page - 1) * 3 : page * 3]:
            pdf.drawString(72, y, code)
            pdf.drawString(130, y, label)
            pdf.drawRightString(420, y, now)
            pdf.drawRightString(520, y, before)
            y -= 22
        pdf.showPage()
    pdf.save()
    return path


_VESSELS = ("Aurora", "Borealis", "Calypso", "Dorado", "Equinox", "Fjord", "Galena", "Halcyon", "Isolde")
_PORTS = ("Rotterdam", "Busan", "Santos", "Durban", "Valencia", "Tianjin", "Halifax")
_CARGOES = ("grain", "steel coils", "timber", "containers", "bauxite")


def long_report_pdf(path: Path, pages: int, chinese: bool = False) -> Path:
    """A long report as real ones run: a title on page 1, a chapter heading every 50 pages and a
    section heading every 10 (numbered, in larger type), a running header and a page counter on
    every page, and one body paragraph per page that names its page and a vessel (so a test can find it)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = cjk_font() if chinese else "Helvetica"
    header = "远航物流集团 运营手册" if chinese else "Acme Logistics Group - Operations Manual"
    width, height = A4
    pdf = canvas.Canvas(str(path), pagesize=A4, pageCompression=1)
    for page in range(1, pages + 1):
        pdf.setFont(font, 9)
        pdf.drawString(72, height - 40, header)
        pdf.drawCentredString(width / 2, 30, f"第 {page} 页" if chinese else f"Page {page}")
        y = height - 100
        if page == 1:
            pdf.setFont(font, 24)
            pdf.drawString(72, y, "运营手册" if chinese else "Operations Manual")
            y -= 50
        if page % 50 == 1:
            pdf.setFont(font, 18)
            chapter = page // 50 + 1
            pdf.drawString(
                72, y, f"第{chapter}章 港区{chapter}" if chinese else f"Chapter {chapter}: Terminal {chapter}"
            )
            y -= 36
        if page % 10 == 1:
            pdf.setFont(font, 14)
            group = page // 10 + 1
            pdf.drawString(72, y, f"作业区{group}" if chinese else f"Berth group {group}")
            y -= 28
        pdf.setFont(font, 11)
        vessel, port, cargo = (names[page % len(names)] for names in (_VESSELS, _PORTS, _CARGOES))
        body = (
            [f"{vessel}号自{port}港载{cargo}第{page}次靠泊，引航员在外锚地登轮，", f"缆绳系牢后记录编号{page * 7}。"]
            if chinese
            else [
                f"The {vessel} from {port} with {cargo} made call {page}; pilots boarded at the outer anchorage",
                f"and stayed on the bridge until the lines were fast (log entry {page * 7}).",
            ]
        )
        for line in body:
            pdf.drawString(72, y, line)
            y -= 15
        pdf.showPage()
    pdf.save()
    return path


def column_statement_pdf(path: Path) -> Path:
    """An unruled cash-flow statement set as a Taiwanese filing sets it: a centred title block, labels on a 14 pt pitch,
    each period's amounts right-aligned far to the right (so layout analysis makes a box per column),
    period headers a little above, the opening parenthesis of a negative amount set apart from it,
    a paragraph of notes below, and beside that on the lower half a two-column passage of prose
    (which must stay prose)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = cjk_font()
    width, height = A4
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont(font, 12)
    pdf.drawCentredString(width / 2, height - 50, "遠航物流股份有限公司")
    pdf.drawCentredString(width / 2, height - 66, "合併現金流量表")
    pdf.setFont(font, 10)
    top = height - 110
    pdf.drawRightString(420, top, "112年1至3月")
    pdf.drawRightString(530, top, "111年1至3月")
    rows = [
        ("現金流量表", None, None),
        ("營業活動之淨現金流入", "3,465,093", "5,386,162"),
        ("投資活動之淨現金流出", "(4,844,175)", "(3,395,771)"),
        ("籌資活動之淨現金流出", "(2,967,049)", "(3,929,730)"),
        ("本期現金及約當現金減少數", "(4,457,907)", "(1,142,394)"),
        ("期末現金及約當現金餘額", "44,082,471", "44,506,092"),
    ]
    y = top - 16
    for label, now, before in rows:
        pdf.drawString(110, y, label)
        for right, amount in ((420, now), (530, before)):
            if amount is None:
                continue
            if amount.startswith("("):
                pdf.drawString(right - 100, y, "(")  # the parenthesis sits apart, by the column's left edge
                amount = amount[1:]
            pdf.drawRightString(right, y, amount)
        y -= 14
    y -= 30
    pdf.drawString(72, y, "註：本表金額以新台幣仟元為單位，各項目之說明請詳附註六。")
    y -= 60
    left = ["The terminal handled 1,204 calls in the quarter.", "Berth 4 was closed for dredging.", "Crane 7 is new."]
    right = ["Pilots board at the outer anchorage.", "The roster is posted on Friday.", "Tugs are booked a day ahead."]
    for a, b in zip(left, right, strict=True):
        pdf.drawString(72, y, a)
        pdf.drawString(320, y, b)
        y -= 14
    pdf.showPage()
    pdf.save()
    return path


def equity_statement_pdf(path: Path) -> Path:
    """A landscape statement of changes in equity set as Taiwanese filings set it, the kind both table
    finders read in fragments: a centred title block; a header four lines tall whose top phrase
    ("歸屬於母公司業主之權益") is spread a character at a time across five columns and underlined, a
    second spanning phrase ("保留盈餘") over two of them, and column names wrapped over two lines;
    account codes and notes in columns of their own; "$" and "(" set apart from their amounts;
    amounts underlined; a label wrapped over two lines with its amounts on the second; a signature
    line and a note below."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen import canvas

    font = cjk_font()
    width, height = landscape(A4)
    pdf = canvas.Canvas(str(path), pagesize=(width, height))
    pdf.setFont(font, 11)
    pdf.drawCentredString(width / 2, height - 40, "和泰汽車股份有限公司及子公司")
    pdf.drawCentredString(width / 2, height - 54, "合併權益變動表")
    pdf.setFont(font, 9)
    pdf.drawCentredString(width / 2, height - 67, "民國111年1月1日至9月30日")
    pdf.drawRightString(width - 40, height - 80, "單位：新台幣仟元")
    rights = [300, 370, 440, 510, 600, 680]  # right edges of the six amount columns
    lefts = [right - 60 for right in rights]
    top = height - 100

    def spread(text: str, x0: float, x1: float, y: float) -> None:
        """Set with character spacing (the PDF's Tc operator), as filings spread a heading."""
        line = pdf.beginText(x0, y)
        line.setFont(font, 9)
        line.setCharSpace((x1 - x0 - 9 * len(text)) / (len(text) - 1))
        line.textOut(text)
        line.setCharSpace(0)  # Tc is graphics state: it would outlive this text object
        pdf.drawText(line)

    spread("歸屬於母公司業主之權益", lefts[0], rights[4], top)
    pdf.line(lefts[0], top - 3, rights[4], top - 3)
    spread("保留盈餘", lefts[2], rights[3], top - 12)
    pdf.line(lefts[2], top - 15, rights[3], top - 15)
    names = [
        ("", "普通股股本"),
        ("", "資本公積"),
        ("", "法定盈餘公積"),
        ("", "未分配盈餘"),
        ("國外營運機構財務", "報表換算之兌換差額"),
        ("", "權益總額"),
    ]
    for right, (first, second) in zip(rights, names, strict=True):
        if first:
            pdf.drawRightString(right, top - 24, first)
        pdf.drawRightString(right, top - 36, second)
        pdf.line(right - 60, top - 39, right, top - 39)
    pdf.drawString(40, top - 36, "代碼")
    pdf.drawString(175, top - 36, "附註")
    opening = ["$ 5,461,792", "$ 2,818,336", "$ 12,544,333", "$ 42,338,324", "($ 496,286)", "$ 62,666,509"]
    closing = ["$ 5,461,792", "$ 2,818,336", "$ 13,925,963", "$ 44,339,374", "($ 645,834)", "$ 65,899,631"]
    rows = [
        ("A1", "111年1月1日餘額", "", opening),
        ("D1", "111年前三季淨利", "", ["-", "-", "-", "12,667,726", "-", "12,667,726"]),
        ("D3", "111年前三季稅後", "", None),
        ("", "其他綜合損益", "", ["-", "-", "-", "-", "( 149,548)", "( 149,548)"]),
        ("", "盈餘指撥及分派：", "六(二十八)", None),
        ("B1", "法定盈餘公積", "", ["-", "-", "1,381,630", "( 1,381,630)", "-", "-"]),
        ("B5", "現金股利", "", ["-", "-", "-", "( 9,285,046)", "-", "( 9,285,046)"]),
        ("Z1", "111年9月30日餘額", "", closing),
    ]
    y = top - 56
    for code, label, note, amounts in rows:
        pdf.drawString(40, y, code)
        pdf.drawString(70 if code or label.endswith("：") or label.endswith("餘額") else 76, y, label)
        if note:
            pdf.drawString(175, y, note)
        for right, amount in zip(rights, amounts or [], strict=False):
            mark, _, figure = amount.rpartition(" ")
            if mark:  # "$" and "(" stand at the column's left edge, apart from the figure
                pdf.drawString(right - 60, y, mark)
            pdf.drawRightString(right if not figure.endswith(")") else right + 4, y, figure)
            if amounts is not None and code in ("D1", ""):
                pdf.line(right - 60, y - 3, right, y - 3)
        y -= 16
    pdf.drawCentredString(width / 2, y - 20, "後附合併財務報表附註為本合併財務報告之一部分，請併同參閱。")
    pdf.drawString(40, y - 44, "董事長：黃南光")
    pdf.drawString(width / 2 - 30, y - 44, "經理人：蘇純興")
    pdf.drawString(width - 150, y - 44, "會計主管：陳亭汝")
    pdf.showPage()
    pdf.save()
    return path
