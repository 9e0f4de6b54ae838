"""Small PDFs made inside tests, for cases the bundled samples do not cover."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image


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
