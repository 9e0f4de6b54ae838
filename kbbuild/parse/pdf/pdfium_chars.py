"""Characters, images and rulings of a page read by pdfium (C++), for pdfminer's layout analysis.

pdfminer.six spends most of its time tokenising content streams in pure Python, not in the layout
analysis that groups characters into lines and boxes. pdfium reads the same characters (with font
size, font name and loose boxes) tens of times faster, so kbbuild hands pdfium's characters to
pdfminer's own analysis (``LTPage.analyze``): the grouping into lines and text boxes is exactly
pdfminer's; only where the characters come from changes.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
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


@dataclass(frozen=True)
class _PageSpace:
    """From pdfium's coordinates (PDF user space) to the page as displayed, as pdfminer places
    it: the media box's corner at the origin and ``/Rotate`` applied. Without it a rotated
    page's text runs sideways and its tables are never found."""

    left: float
    bottom: float
    right: float
    top: float
    rotation: int  # clockwise degrees: 0, 90, 180, 270

    @classmethod
    def of(cls, page) -> _PageSpace:
        left, bottom, right, top = page.get_mediabox()
        return cls(left, bottom, right, top, page.get_rotation() % 360)

    @property
    def size(self) -> tuple[float, float]:
        width, height = self.right - self.left, self.top - self.bottom
        return (height, width) if self.rotation in (90, 270) else (width, height)

    def point(self, x: float, y: float) -> tuple[float, float]:
        if self.rotation == 90:
            return y - self.bottom, self.right - x
        if self.rotation == 180:
            return self.right - x, self.top - y
        if self.rotation == 270:
            return self.top - y, x - self.left
        return x - self.left, y - self.bottom

    def box(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        (ax, ay), (bx, by) = self.point(box[0], box[1]), self.point(box[2], box[3])
        return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def _address_function(function, argtypes: list) -> Callable:
    """``function`` (a pypdfium2 binding) called through a prototype that returns the pointer as a
    plain int: comparing two pointers then costs no ``ctypes.cast``."""
    address = ctypes.cast(function, ctypes.c_void_p).value
    return ctypes.CFUNCTYPE(ctypes.c_void_p, *argtypes)(address)


_text_object_of = _address_function(pdfium_c.FPDFText_GetTextObject, [ctypes.c_void_p, ctypes.c_int])
_LINE_ENDS = (10, 13)


def _chars(page, space: _PageSpace) -> list[LTChar]:
    """Every character pdfium reads on the page. This loop runs for each of a page's thousands of
    characters, so the ctypes calls are bound once and the rarely needed ones skipped."""
    textpage = page.get_textpage()
    raw = textpage.raw
    raw_address = ctypes.cast(raw, ctypes.c_void_p).value
    rect = pdfium_c.FS_RECTF()
    rect_ref = ctypes.byref(rect)
    buffer = ctypes.create_string_buffer(256)
    flags = ctypes.c_int()
    matrix = pdfium_c.FS_MATRIX()
    size, up = 0.0, ""
    x, y = ctypes.c_double(), ctypes.c_double()
    x_ref, y_ref = ctypes.byref(x), ctypes.byref(y)
    get_unicode, is_generated = pdfium_c.FPDFText_GetUnicode, pdfium_c.FPDFText_IsGenerated
    loose_box, char_origin = pdfium_c.FPDFText_GetLooseCharBox, pdfium_c.FPDFText_GetCharOrigin
    to_page = space.box
    chars: list[LTChar] = []
    last_object, fontname = None, ""
    previous: tuple[float, float, float, float] | None = None  # last glyph box, upright text, user space
    try:
        for index in range(pdfium_c.FPDFText_CountChars(raw)):
            code = get_unicode(raw, index)
            # Only spaces and line ends can be generated, so only they need asking.
            if (code == 32 or code in _LINE_ENDS) and is_generated(raw, index):
                # pdfium's word break between two glyphs on a line (some PDFs position words
                # instead of drawing spaces). pdfminer's line analysis sees the gap anyway, but
                # pdfplumber's cell text needs a space wider than 3 pt unless a space char is there.
                if previous is not None and code == 32:
                    loose_box(raw, index, rect_ref)
                    _, bottom, right, top = previous
                    if 0 <= rect.left - right < 4 * (top - bottom):
                        gap = (right, bottom, max(rect.left, right + 0.1), top)
                        chars.append(LTChar(" ", to_page(gap), fontname, size))
                previous = None
                continue
            char = "-" if code == 2 else chr(code) if code else ""  # pdfium marks a line-end hyphen as 0x02
            if not char or (char.isspace() and char != " "):
                continue  # a space drawn by the PDF is a character, as pdfminer has it; line breaks are not
            loose_box(raw, index, rect_ref)
            text_object = _text_object_of(raw_address, index)
            if text_object != last_object:  # font facts are per text object, not per char
                length = pdfium_c.FPDFText_GetFontInfo(raw, index, buffer, len(buffer), ctypes.byref(flags))
                fontname = buffer.raw[: max(length - 1, 0)].decode("utf-8", "replace")
                if pdfium_c.FPDFText_GetFontWeight(raw, index) >= 600 and "bold" not in fontname.lower():
                    fontname += "-Bold"
                last_object = text_object
                size, up = _size_and_up(raw, index, matrix)
            box = (rect.left, rect.bottom, rect.right, rect.top)
            if size > 0 and up and char_origin(raw, index, x_ref, y_ref):
                box = _glyph_box(box, x.value, y.value, size, up)
            if box[2] > box[0] and box[3] > box[1]:
                chars.append(LTChar(char, to_page(box), fontname, size))
                previous = box if up == "+y" and char != " " else None
    finally:
        textpage.close()
    return chars


def _size_and_up(raw, index: int, matrix) -> tuple[float, str]:
    """The size a reader sees, and which way is up for the glyphs ("+y", "-y", "+x", "-x"; "" when
    slanted). pdfium reports the operand of ``Tf``, and many typesetters write ``1 Tf`` and scale
    with the text matrix; boxes one "point" tall then never join into lines."""
    size = pdfium_c.FPDFText_GetFontSize(raw, index)
    if not pdfium_c.FPDFText_GetMatrix(raw, index, ctypes.byref(matrix)):
        return size, "+y"
    scale = math.hypot(matrix.c, matrix.d)
    if scale == 0:
        return size, ""
    if abs(matrix.c) < 1e-3 * scale:
        up = "+y" if matrix.d > 0 else "-y"
    elif abs(matrix.d) < 1e-3 * scale:
        up = "+x" if matrix.c > 0 else "-x"
    else:
        up = ""
    return size * scale, up


def _glyph_box(loose: tuple[float, float, float, float], x: float, y: float, size: float, up: str):
    """A glyph box like pdfminer's: one font size across the line, from the descender line up,
    so that line gaps compare with pdfminer's (pdfium's loose boxes are taller). Along the line
    the loose box is kept."""
    left, bottom, right, top = loose
    if up == "+y":
        return left, y - 0.2 * size, right, y + 0.8 * size
    if up == "-y":
        return left, y - 0.8 * size, right, y + 0.2 * size
    if up == "+x":
        return x - 0.2 * size, bottom, x + 0.8 * size, top
    return x - 0.8 * size, bottom, x + 0.2 * size, top


def _clip(box: tuple[float, float, float, float], width: float, height: float):
    left, bottom, right, top = max(box[0], 0.0), max(box[1], 0.0), min(box[2], width), min(box[3], height)
    return (left, bottom, right, top) if right >= left and top >= bottom else None


def _segments(obj, space: _PageSpace) -> list[LTLine]:
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
        point = space.point(*matrix.on_point(x.value, y.value))
        kind = pdfium_c.FPDFPathSegment_GetType(segment)
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
            start = point
        elif kind == pdfium_c.FPDF_SEGMENT_LINETO and current is not None:
            lines.append(_line(current, point))
        if pdfium_c.FPDFPathSegment_GetClose(segment) and start is not None and point != start:
            lines.append(_line(point, start))
        current = point
    width, height = space.size
    return [line for line in lines if _clip(line.bbox, width, height) == line.bbox]


def _line(p0: tuple[float, float], p1: tuple[float, float]) -> LTLine:
    return LTLine(1.0, p0, p1, stroke=True, original_path=[])


def read_page(page, number: int) -> PdfiumPage:
    space = _PageSpace.of(page)
    width, height = space.size
    layout = LTPage(number, (0.0, 0.0, width, height))
    for char in _chars(page, space):
        x, y = (char.x0 + char.x1) / 2, (char.y0 + char.y1) / 2
        if 0 <= x <= width and 0 <= y <= height:  # text placed off the page is never seen
            layout.add(char)
    images = []
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=3):
        box = _clip(space.box(obj.get_bounds()), width, height)
        if box is None:
            continue
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            images.append(box)
        elif obj.level == 0:
            for line in _segments(obj, space):
                layout.add(line)
        else:  # inside a form XObject, whose own matrix also applies: the clipped box is enough
            layout.add(LTRect(1.0, box, stroke=True, fill=True, original_path=[]))
    return PdfiumPage(layout, images)
