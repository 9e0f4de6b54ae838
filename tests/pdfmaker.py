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
