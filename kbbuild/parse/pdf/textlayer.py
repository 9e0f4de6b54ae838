"""Read the text layer of a PDF with pdfminer.six: text blocks with page, box, font size and weight.

pdfminer's layout analysis groups characters into lines and boxes; a box can still hold a heading
line followed by its paragraph, so boxes are split wherever the font size or weight changes. Font
statistics over the whole document then decide which blocks are headings and at what level: a
heading is whatever is notably larger (or bold and numbered) *relative to this document's body
text*, not above a fixed size.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTChar, LTFigure, LTImage, LTPage, LTTextBox, LTTextLine
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfpage import PDFTextExtractionNotAllowed
from pdfminer.pdfparser import PDFSyntaxError
from pdfminer.psparser import PSEOF, PSException

from kbbuild.errors import InputError
from kbbuild.records import BBox, Element, ElementKind, PageInfo

PARSER_NAME = "pdf"

# A heading is short: longer blocks in a big font are pull quotes or cover blurbs, not structure.
MAX_HEADING_CHARS = 160
MAX_HEADING_LINES = 3
# Below this many characters a page is treated as having no usable text layer.
MIN_TEXT_LAYER_CHARS = 8

# pdfminer writes a glyph it cannot map to Unicode as "(cid:123)".
_UNMAPPED = re.compile(r"\(cid:\d+\)")

_NUMBERED_HEADING = re.compile(
    r"^(?:(?P<dotted>\d+(?:\.\d+){0,5})\.?\s+\S"
    r"|(?P<chapter>第[一二三四五六七八九十百零〇\d]+[章节部分篇条])"
    r"|(?P<cn_item>[一二三四五六七八九十]+、)"
    r"|(?P<cn_paren>[（(][一二三四五六七八九十]+[）)]))"
)


@dataclass
class _Block:
    """A run of lines inside one pdfminer box that share font size and weight."""

    page: int
    lines: list[str]
    bbox: tuple[float, float, float, float]  # pdfminer coordinates (origin bottom-left)
    size: float
    bold: bool
    n_chars: int

    @property
    def text(self) -> str:
        return "\n".join(self.lines).strip()


def _line_font(line: LTTextLine) -> tuple[float, bool, int]:
    sizes: Counter[float] = Counter()
    bold = 0
    total = 0
    for char in line:
        if isinstance(char, LTChar) and not char.get_text().isspace():
            sizes[round(char.size * 2) / 2] += 1
            fontname = char.fontname.lower()
            bold += any(mark in fontname for mark in ("bold", "black", "heavy", "semibold"))
            total += 1
    if not total:
        return 0.0, False, 0
    return sizes.most_common(1)[0][0], bold * 2 > total, total


def _blocks_of_box(box: LTTextBox, page: int) -> Iterator[_Block]:
    current: _Block | None = None
    for line in box:
        if not isinstance(line, LTTextLine):
            continue
        text = line.get_text().rstrip("\n")
        if not text.strip():
            continue
        size, bold, n_chars = _line_font(line)
        if current is not None and (current.size, current.bold) == (size, bold):
            current.lines.append(text)
            x0, y0, x1, y1 = current.bbox
            current.bbox = (min(x0, line.x0), min(y0, line.y0), max(x1, line.x1), max(y1, line.y1))
            current.n_chars += n_chars
            continue
        if current is not None:
            yield current
        current = _Block(page, [text], (line.x0, line.y0, line.x1, line.y1), size, bold, n_chars)
    if current is not None:
        yield current


def _image_area(layout: LTPage) -> float:
    area = 0.0
    stack = list(layout)
    while stack:
        item = stack.pop()
        if isinstance(item, LTImage):
            area += max(item.width, 0) * max(item.height, 0)
        elif isinstance(item, LTFigure):
            stack.extend(item)
    return area


def _read_pages(path: Path, on_page: Callable[[int], None]) -> tuple[list[_Block], list[PageInfo]]:
    blocks: list[_Block] = []
    pages: list[PageInfo] = []
    laparams = LAParams()
    try:
        for number, layout in enumerate(extract_pages(str(path), laparams=laparams), start=1):
            page_blocks = [
                block for item in layout if isinstance(item, LTTextBox) for block in _blocks_of_box(item, number)
            ]
            n_chars = sum(block.n_chars for block in page_blocks)
            page_text = "".join(block.text for block in page_blocks)
            unmapped = sum(len(m) for m in _UNMAPPED.findall(page_text)) + page_text.count("\ufffd")
            garbage = unmapped / max(len(page_text.replace(" ", "")), 1)
            page_area = max(layout.width * layout.height, 1.0)
            pages.append(
                PageInfo(
                    number=number,
                    width=layout.width,
                    height=layout.height,
                    n_chars=n_chars,
                    has_text_layer=n_chars >= MIN_TEXT_LAYER_CHARS and garbage <= 0.5,
                    garbage_ratio=round(min(garbage, 1.0), 4),
                    image_area_ratio=min(_image_area(layout) / page_area, 1.0),
                )
            )
            blocks.extend(page_blocks)
            on_page(number)
    except (PDFPasswordIncorrect, PDFEncryptionError) as error:
        raise InputError(f"encrypted PDF: cannot be opened without a password ({type(error).__name__})") from None
    except PDFTextExtractionNotAllowed:
        raise InputError("the PDF forbids text extraction (encrypted with restrictions)") from None
    except (PDFSyntaxError, PSEOF, PSException) as error:
        raise InputError(f"corrupt PDF: {error or type(error).__name__}") from None
    if not pages:
        raise InputError("corrupt PDF: no pages found")
    return blocks, pages


def _body_size(blocks: list[_Block]) -> float:
    """The font size carrying the most characters is the body text size."""
    weights: Counter[float] = Counter()
    for block in blocks:
        weights[block.size] += block.n_chars
    return weights.most_common(1)[0][0] if weights else 0.0


def _numbering_level(text: str) -> int | None:
    match = _NUMBERED_HEADING.match(text)
    if not match:
        return None
    if match.group("dotted"):
        return match.group("dotted").count(".") + 1
    if match.group("chapter"):
        return 1
    if match.group("cn_item"):
        return 2
    return 3


def _is_heading_shaped(block: _Block) -> bool:
    """Short, not ending mid-sentence, and mostly words: "933 $" in a big font is a table figure."""
    text = block.text
    visible = [c for c in text if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    return (
        0 < len(text) <= MAX_HEADING_CHARS
        and len(block.lines) <= MAX_HEADING_LINES
        and not text.rstrip().endswith((",", ";", "，", "；"))
        and letters >= 2
        and letters >= 0.5 * len(visible)
    )


def _classify(blocks: list[_Block], heading_ratio: float) -> list[tuple[_Block, ElementKind, int | None]]:
    body = _body_size(blocks)
    big_sizes = sorted(
        {b.size for b in blocks if body and b.size >= body * heading_ratio and _is_heading_shaped(b)},
        reverse=True,
    )
    size_level = {size: min(index + 1, 6) for index, size in enumerate(big_sizes)}
    title_block = None
    first_page = [b for b in blocks if b.page == 1 and b.size in size_level]
    if first_page:
        title_block = max(first_page, key=lambda b: (b.size, -b.bbox[1]))
    deepest = len(size_level)
    out: list[tuple[_Block, ElementKind, int | None]] = []
    for block in blocks:
        if block is title_block:
            out.append((block, ElementKind.TITLE, None))
        elif block.size in size_level and _is_heading_shaped(block):
            numbered = _numbering_level(block.text)
            level = numbered if numbered is not None else size_level[block.size]
            out.append((block, ElementKind.HEADING, level))
        elif block.bold and _is_heading_shaped(block) and (numbered := _numbering_level(block.text)):
            out.append((block, ElementKind.HEADING, max(numbered, deepest + 1) if deepest else numbered))
        else:
            out.append((block, ElementKind.PARAGRAPH, None))
    return out


def _to_element(block: _Block, kind: ElementKind, level: int | None, page_height: float) -> Element:
    x0, y0, x1, y1 = block.bbox
    return Element(
        kind=kind,
        text=block.text,
        page=block.page,
        bbox=BBox(x0=x0, y0=page_height - y1, x1=x1, y1=page_height - y0),
        level=level,
        font_size=block.size,
        bold=block.bold,
        parser=PARSER_NAME,
    )


def read_text_layer(
    path: Path, heading_ratio: float, on_page: Callable[[int], None]
) -> tuple[list[Element], list[PageInfo], str | None]:
    """Elements in pdfminer's reading order, page facts, and the document title if one stands out."""
    blocks, pages = _read_pages(path, on_page)
    heights = {page.number: page.height for page in pages}
    elements = [
        _to_element(block, kind, level, heights[block.page]) for block, kind, level in _classify(blocks, heading_ratio)
    ]
    title = next((e.text.replace("\n", " ") for e in elements if e.kind is ElementKind.TITLE), None)
    return elements, pages, title
