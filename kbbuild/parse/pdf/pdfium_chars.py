"""Characters, images and rulings of a page read by pdfium (C++), for pdfminer's layout analysis.

pdfminer.six spends most of its time tokenising content streams in pure Python, not in the layout
analysis that groups characters into lines and boxes. pdfium reads the same characters (with font
size, font name and loose boxes) tens of times faster, so kbbuild hands pdfium's characters to
pdfminer's own analysis (``LTPage.analyze``): the grouping into lines and text boxes is exactly
pdfminer's; only where the characters come from changes.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from types import SimpleNamespace

import pypdfium2.raw as pdfium_c
from pdfminer import layout as pdfminer_layout
from pdfminer.layout import LTComponent, LTLine, LTPage, LTRect

_NO_COLOUR = SimpleNamespace(scolor=None, ncolor=None)


class LTChar(pdfminer_layout.LTChar):
    """A pdfminer character built from pdfium's data (pdfminer's own constructor needs its font
    objects). It keeps pdfminer's class name because pdfplumber derives object types ("char")
    from class names when it converts a layout for its table finder."""

    def __init__(self, text: str, bbox: tuple[float, float, float, float], fontname: str, size: float) -> None:
        LTComponent.__init__(self, bbox)
        self._text = text
        self.fontname = fontname
        self.size = size
        self.upright = True
        self.matrix = (1.0, 0.0, 0.0, 1.0, bbox[0], bbox[1])
        self.adv = bbox[2] - bbox[0]
        self.graphicstate = _NO_COLOUR


@dataclass
class PdfiumPage:
    layout_page: LTPage  # characters and rulings, not yet analysed
    images: list[tuple[float, float, float, float]]


def _chars(page) -> list[LTChar]:
    textpage = page.get_textpage()
    raw = textpage.raw
    rect = pdfium_c.FS_RECTF()
    buffer = ctypes.create_string_buffer(256)
    flags = ctypes.c_int()
    x, y = ctypes.c_double(), ctypes.c_double()
    chars: list[LTChar] = []
    last_object, fontname = None, ""
    try:
        for index in range(pdfium_c.FPDFText_CountChars(raw)):
            if pdfium_c.FPDFText_IsGenerated(raw, index):
                continue
            code = pdfium_c.FPDFText_GetUnicode(raw, index)
            char = chr(code) if code else ""
            if not char or (char.isspace() and char != " "):
                continue  # a space drawn by the PDF is a character, as pdfminer has it; line breaks are not
            pdfium_c.FPDFText_GetLooseCharBox(raw, index, ctypes.byref(rect))
            text_object = ctypes.cast(pdfium_c.FPDFText_GetTextObject(raw, index), ctypes.c_void_p).value
            if text_object != last_object:  # font facts are per text object, not per char
                length = pdfium_c.FPDFText_GetFontInfo(raw, index, buffer, len(buffer), ctypes.byref(flags))
                fontname = buffer.raw[: max(length - 1, 0)].decode("utf-8", "replace")
                if pdfium_c.FPDFText_GetFontWeight(raw, index) >= 600 and "bold" not in fontname.lower():
                    fontname += "-Bold"
                last_object = text_object
            size = pdfium_c.FPDFText_GetFontSize(raw, index)
            if size > 0 and pdfium_c.FPDFText_GetCharOrigin(raw, index, ctypes.byref(x), ctypes.byref(y)):
                # A glyph box like pdfminer's: one font size tall, from the baseline's descender
                # line, so that line gaps compare with pdfminer's (loose boxes are taller).
                box = (rect.left, y.value - 0.2 * size, rect.right, y.value + 0.8 * size)
            else:
                box = (rect.left, rect.bottom, rect.right, rect.top)
            if box[2] > box[0] and box[3] > box[1]:
                chars.append(LTChar(char, box, fontname, size))
    finally:
        textpage.close()
    return chars


def _clip(box: tuple[float, float, float, float], width: float, height: float):
    left, bottom, right, top = max(box[0], 0.0), max(box[1], 0.0), min(box[2], width), min(box[3], height)
    return (left, bottom, right, top) if right >= left and top >= bottom else None


def _segments(obj, width: float, height: float) -> list[LTLine]:
    """The straight segments of a path, in page coordinates: a table's whole grid is often one
    path, whose bounding box alone would hide every rule inside it."""
    matrix = obj.get_matrix()
    x, y = ctypes.c_float(), ctypes.c_float()
    lines: list[LTLine] = []
    current = start = None
    for index in range(pdfium_c.FPDFPath_CountSegments(obj.raw)):
        segment = pdfium_c.FPDFPath_GetPathSegment(obj.raw, index)
        if not pdfium_c.FPDFPathSegment_GetPoint(segment, ctypes.byref(x), ctypes.byref(y)):
            continue
        point = matrix.on_point(x.value, y.value)
        kind = pdfium_c.FPDFPathSegment_GetType(segment)
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
            start = point
        elif kind == pdfium_c.FPDF_SEGMENT_LINETO and current is not None:
            lines.append(_line(current, point))
        if pdfium_c.FPDFPathSegment_GetClose(segment) and start is not None and point != start:
            lines.append(_line(point, start))
        current = point
    return [line for line in lines if _clip(line.bbox, width, height) == line.bbox]


def _line(p0: tuple[float, float], p1: tuple[float, float]) -> LTLine:
    return LTLine(1.0, p0, p1, stroke=True, original_path=[])


def read_page(page, number: int) -> PdfiumPage:
    width, height = page.get_size()
    layout = LTPage(number, (0.0, 0.0, width, height))
    for char in _chars(page):
        x, y = (char.x0 + char.x1) / 2, (char.y0 + char.y1) / 2
        if 0 <= x <= width and 0 <= y <= height:  # text placed off the page is never seen
            layout.add(char)
    images = []
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=3):
        box = _clip(obj.get_bounds(), width, height)
        if box is None:
            continue
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            images.append(box)
        elif obj.level == 0:
            for line in _segments(obj, width, height):
                layout.add(line)
        else:  # inside a form XObject, whose own matrix also applies: the clipped box is enough
            layout.add(LTRect(1.0, box, stroke=True, fill=True, original_path=[]))
    return PdfiumPage(layout, images)
