"""Read the text layer of a PDF with pdfminer.six: text blocks with page, box, font size and weight.

pdfminer's layout analysis groups characters into lines and boxes; a box can still hold a heading
line followed by its paragraph, so boxes are split wherever the font size or weight changes. Font
statistics over the whole document then decide which blocks are headings and at what level: a
heading is whatever is notably larger (or bold and numbered) *relative to this document's body
text*, not above a fixed size.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pdfplumber
import pypdfium2
from pdfminer.layout import LAParams, LTChar, LTFigure, LTImage, LTPage, LTTextBox, LTTextLine
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfpage import PDFTextExtractionNotAllowed
from pdfminer.pdfparser import PDFSyntaxError
from pdfminer.psparser import PSEOF, PSException
from pdfplumber.utils.exceptions import PdfminerException

from kbbuild.errors import InputError
from kbbuild.parse.pdf.aligned import aligned_tables, header_rows
from kbbuild.parse.pdf.cjk_spacing import line_text
from kbbuild.parse.pdf.pdfium_chars import read_page as read_pdfium_page
from kbbuild.parse.pdf.plumber_objects import plumber_objects
from kbbuild.parse.pdf.statement_grid import grid_wins, statement_grids
from kbbuild.parse.pdf.tables import TextTable, clean_rows, find_tables, table_signal
from kbbuild.parse.reading_order import xy_cut_order
from kbbuild.records import BBox, Element, ElementKind, ExtractionMethod, PageInfo
from kbbuild.text.sections import is_not_a_section
from kbbuild.text.tables import to_html, to_markdown
from kbbuild.workers import exit_with_parent

PARSER_NAME = "pdf"

# A heading is short: longer blocks in a big font are pull quotes or cover blurbs, not structure.
MAX_HEADING_CHARS = 160
MAX_HEADING_LINES = 3
# Below this many characters a page is treated as having no usable text layer.
MIN_TEXT_LAYER_CHARS = 8
# Images smaller than this share of the page are decoration (logos, bullets), not figures.
MIN_FIGURE_SHARE = 0.02
# An image covering most of the page is the page itself (a scan or a background), not a figure.
MAX_FIGURE_SHARE = 0.8
# line_margin 0.8 (pdfminer: 0.5) keeps the lines of a paragraph set with generous leading, as
# Chinese text usually is, in one box; paragraph spacing still separates boxes.
LAPARAMS = {"line_margin": 0.8, "boxes_flow": None}  # no box ordering: reading order is XY-cut's
# Documents shorter than this are read in the calling process (a worker round trip costs more).
PARALLEL_MIN_PAGES = 12

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
    line_boxes: list[tuple[float, float, float, float]]  # one per line, pdfminer coordinates

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


def _blocks_of_box(box: LTTextBox, page: int, skip: list[tuple[float, float, float, float]]) -> Iterator[_Block]:
    current: _Block | None = None
    for line in box:
        if not isinstance(line, LTTextLine):
            continue
        if skip and _inside((line.x0 + line.x1) / 2, (line.y0 + line.y1) / 2, skip):
            continue
        text = line_text(line).rstrip("\n")
        if not text.strip():
            continue
        size, bold, n_chars = _line_font(line)
        box = (line.x0, line.y0, line.x1, line.y1)
        if current is not None and (current.size, current.bold) == (size, bold):
            current.lines.append(text)
            current.line_boxes.append(box)
            x0, y0, x1, y1 = current.bbox
            current.bbox = (min(x0, line.x0), min(y0, line.y0), max(x1, line.x1), max(y1, line.y1))
            current.n_chars += n_chars
            continue
        if current is not None:
            yield current
        current = _Block(page, [text], box, size, bold, n_chars, [box])
    if current is not None:
        yield current


def _image_boxes(layout: LTPage) -> list[tuple[float, float, float, float]]:
    """Boxes of images and figure XObjects (pdfminer coordinates), outermost only."""
    boxes = []
    for item in layout:
        if isinstance(item, (LTImage, LTFigure)) and item.width > 0 and item.height > 0:
            boxes.append((item.x0, item.y0, item.x1, item.y1))
    return boxes


def _inside(x: float, y: float, boxes: list[tuple[float, float, float, float]]) -> bool:
    return any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in boxes)


@dataclass
class _Figure:
    page: int
    bbox: tuple[float, float, float, float]  # pdfminer coordinates


@dataclass
class _PageParts:
    blocks: list[_Block]
    tables: list[TextTable]
    figures: list[_Figure]
    info: PageInfo


def _parts(
    layout: LTPage,
    number: int,
    tables: list[TextTable],
    images: list[tuple[float, float, float, float]],
    grids: list[TextTable] = (),
) -> _PageParts:
    height = layout.height

    def prose_blocks(ruled: list[TextTable]) -> list[_Block]:
        return [
            block
            for item in layout
            if isinstance(item, LTTextBox)
            for block in _blocks_of_box(item, number, [_pdfminer_box(t, height) for t in ruled])
        ]

    # Lines inside a table belong to the table, not to prose. Ruled tables are settled first; a table
    # found by whitespace alone competes with the column blocks of an unruled statement (``aligned``);
    # a statement rebuilt from word positions (``statement_grid``) competes with all of them.
    ruled = [t for t in tables if t.strategy != "text"]
    blocks = prose_blocks(ruled)
    statements = [s for s in _statement_tables(blocks, height) if not any(_boxes_meet(s.bbox, t.bbox) for t in ruled)]
    unruled = [t for t in tables if t.strategy == "text" and not _outdone(t, statements)]
    statements = [s for s in statements if not any(_boxes_meet(s.bbox, t.bbox) for t in unruled)]
    settled = _settle_grids(grids, ruled, unruled, statements)
    rebuilt = len(settled[0]) < len(ruled)
    if rebuilt:  # a ruled table gave way to a grid: its lines outside the grid are prose again
        blocks = prose_blocks(settled[0])
    ruled, unruled, statements, grids = settled
    members = {id(block) for table in statements for block in table.blocks}
    blocks = [block for block in blocks if id(block) not in members]
    inside = [*unruled, *grids, *(statements if rebuilt else [])]
    blocks = _without_lines_inside(blocks, [_pdfminer_box(t, height) for t in inside])
    tables = [*ruled, *unruled, *statements, *grids]
    n_chars = sum(block.n_chars for block in blocks) + sum(len("".join(map(str, r))) for t in tables for r in t.rows)
    page_text = "".join(block.text for block in blocks)
    unmapped = sum(len(m) for m in _UNMAPPED.findall(page_text)) + page_text.count("\ufffd")
    garbage = unmapped / max(len(page_text.replace(" ", "")), 1)
    page_area = max(layout.width * height, 1.0)
    image_area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in images)
    figures = [
        _Figure(number, box)
        for box in images
        if MIN_FIGURE_SHARE * page_area <= (box[2] - box[0]) * (box[3] - box[1]) <= MAX_FIGURE_SHARE * page_area
    ]
    info = PageInfo(
        number=number,
        width=layout.width,
        height=height,
        n_chars=n_chars,
        has_text_layer=n_chars >= MIN_TEXT_LAYER_CHARS and garbage <= 0.5,
        image_area_ratio=round(min(image_area / page_area, 1.0), 4),
        garbage_ratio=round(min(garbage, 1.0), 4),
    )
    return _PageParts(blocks, tables, figures, info)


@dataclass(frozen=True)
class _StatementTable(TextTable):
    blocks: tuple[_Block, ...] = ()  # the column blocks it replaces


def _settle_grids(
    grids: list[TextTable],
    ruled: list[TextTable],
    unruled: list[TextTable],
    statements: list[_StatementTable],
) -> tuple[list[TextTable], list[TextTable], list[_StatementTable], list[TextTable]]:
    """Statements rebuilt from word positions (``statement_grid``) against the tables the finders
    made of the same place: a grid replaces them where it reads clearly more amounts one to a cell,
    and only where they lie within it (a table reaching well beyond the grid holds more than it)."""
    kept: list[TextTable] = []
    for grid in grids:
        rivals = [t for t in [*ruled, *unruled, *statements] if _boxes_meet(grid.bbox, t.bbox)]
        if any(_share_outside(t.bbox, grid.bbox) > MAX_RIVAL_OUTSIDE for t in rivals):
            continue
        if not grid_wins(grid.rows, [t.rows for t in rivals]):
            continue
        kept.append(grid)
        ruled = [t for t in ruled if not _boxes_meet(grid.bbox, t.bbox)]
        unruled = [t for t in unruled if not _boxes_meet(grid.bbox, t.bbox)]
        statements = [t for t in statements if not _boxes_meet(grid.bbox, t.bbox)]
    return ruled, unruled, statements, kept


MAX_RIVAL_OUTSIDE = 0.25  # share of a rival table's area outside a grid that still lets the grid replace it


def _share_outside(box: tuple[float, float, float, float], frame: tuple[float, float, float, float]) -> float:
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-6)
    inside_w = max(0.0, min(box[2], frame[2]) - max(box[0], frame[0]))
    inside_h = max(0.0, min(box[3], frame[3]) - max(box[1], frame[1]))
    return 1 - inside_w * inside_h / area


def _pdfminer_box(table: TextTable, height: float) -> tuple[float, float, float, float]:
    """A table's top-left-origin box in pdfminer's bottom-left coordinates."""
    return table.bbox[0], height - table.bbox[3], table.bbox[2], height - table.bbox[1]


def _boxes_meet(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _outdone(table: TextTable, statements: list[_StatementTable]) -> bool:
    """A whitespace table over the same place as a statement rebuilt from its column blocks, with
    no more columns: pdfplumber's text strategy splits such a statement into fewer columns than it
    has (labels and first amounts run together), so the rebuilt one is kept."""
    columns = len(table.rows[0]) if table.rows else 0
    return any(_boxes_meet(table.bbox, s.bbox) and len(s.rows[0]) >= columns for s in statements)


def _without_lines_inside(blocks: list[_Block], boxes: list[tuple[float, float, float, float]]) -> list[_Block]:
    """Blocks less their lines whose centre lies in one of ``boxes`` (pdfminer coordinates)."""
    if not boxes:
        return blocks
    out = []
    for block in blocks:
        kept = [
            (text, box)
            for text, box in zip(block.lines, block.line_boxes, strict=True)
            if not _inside((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, boxes)
        ]
        if len(kept) == len(block.lines):
            out.append(block)
        elif kept:
            lines, line_boxes = [text for text, _ in kept], [box for _, box in kept]
            bbox = (
                min(b[0] for b in line_boxes),
                min(b[1] for b in line_boxes),
                max(b[2] for b in line_boxes),
                max(b[3] for b in line_boxes),
            )
            n_chars = sum(not c.isspace() for text in lines for c in text)
            out.append(_Block(block.page, lines, bbox, block.size, block.bold, n_chars, line_boxes))
    return out


def _statement_tables(blocks: list[_Block], height: float) -> list[_StatementTable]:
    """Unruled statements that layout analysis cut into column blocks, as tables (``aligned``)."""
    found: list[_StatementTable] = []
    for table in aligned_tables(blocks):
        rows = clean_rows(table.rows)
        if len(rows) < 2 or len(rows[0]) < 2:
            continue
        x0, y0, x1, y1 = table.bbox
        members = tuple(blocks[i] for i in sorted(table.members))
        headers = header_rows(rows)
        if not headers:  # no header of its own: an empty one, so that no body row is taken for it
            rows, headers = [[""] * len(rows[0]), *rows], 1
        found.append(_StatementTable(rows, headers, (x0, height - y1, x1, height - y0), "aligned", members))
    return found


def _read_page(page, number: int) -> _PageParts:
    """One page through pdfplumber: pdfminer's interpreter and layout analysis, then tables."""
    layout: LTPage = page.layout
    signal = table_signal(layout)
    tables = find_tables(page, signal) if signal.worth_looking else []
    grids = statement_grids(layout) if signal.worth_looking else []
    return _parts(layout, number, tables, _image_boxes(layout), grids)


class _PlumberPages:
    """pdfplumber's pages of one page range, opened only when a page needs them (a table to find,
    or a page pdfium cannot read): opening walks the whole page tree, 2 s on a 10,000-page PDF, which
    every window of it would pay again."""

    def __init__(self, path: str, first: int, last: int, password: str | None) -> None:
        self._args = (path, first, last, password)
        self._pdf: pdfplumber.PDF | None = None
        self._pages: dict = {}

    def page(self, number: int):
        if self._pdf is None:
            path, first, last, password = self._args
            self._pdf = pdfplumber.open(path, laparams=LAPARAMS, password=password or "", pages=range(first, last + 1))
            self._pages = {page.page_number: page for page in self._pdf.pages}
        return self._pages[number]

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()


def _read_page_fast(pdfium_page, plumber: _PlumberPages, number: int) -> _PageParts:
    """One page from pdfium's characters and paths through pdfminer's layout analysis; when it
    shows a table signal, pdfplumber's finder runs on that same layout (handed over as the
    page's layout, so pdfminer never interprets the page)."""
    page = read_pdfium_page(pdfium_page, number)
    layout = page.layout_page
    layout.analyze(LAParams(**LAPARAMS))
    signal = table_signal(layout)
    tables: list[TextTable] = []
    grids: list[TextTable] = []
    if signal.worth_looking:
        plumber_page = plumber.page(number)
        plumber_page._layout = layout
        plumber_page._objects = plumber_objects(plumber_page, layout)
        tables = find_tables(plumber_page, signal)
        plumber_page.close()
        grids = statement_grids(layout)
    return _parts(layout, number, tables, page.images, grids)


def _pdfminer_error(error: Exception) -> Exception:
    """pdfplumber wraps pdfminer's exceptions; the original says what is wrong with the file."""
    if isinstance(error, PdfminerException) and error.args and isinstance(error.args[0], Exception):
        return error.args[0]
    return error


def _normalise_heading(text: str) -> str:
    return " ".join(text.split()).casefold().rstrip(".:：")


def _outline(pdf) -> dict[str, int]:
    """Bookmark titles -> heading level. A single top entry is the document's own title: its
    children are the level-1 sections (returned with level 0 for the title itself)."""
    try:
        entries = [(level, title) for level, title, *_ in pdf.doc.get_outlines() if title]
    except Exception:  # PDFNoOutlines, or a damaged outline: bookmarks are optional
        return {}
    if not entries:
        return {}
    top = min(level for level, _ in entries)
    shift = 1 if sum(level == top for level, _ in entries) == 1 and entries[0][0] == top else 0
    levels: dict[str, int] = {}
    for level, title in entries:
        levels.setdefault(_normalise_heading(title), level - top + 1 - shift)
    return levels


def _read_range(
    path: str,
    first: int,
    last: int,
    engine: str = "pdfium",
    on_page: Callable[[int], None] | None = None,
    password: str | None = None,
) -> list[_PageParts]:
    """Pages first..last of one PDF: the unit of work of a parse worker process."""
    parts = []
    pdfium_doc = pypdfium2.PdfDocument(path, password=password) if engine == "pdfium" else None
    plumber = _PlumberPages(path, first, last, password)
    try:
        for number in range(first, last + 1):
            part = None
            if pdfium_doc is not None:
                try:
                    part = _read_page_fast(pdfium_doc[number - 1], plumber, number)
                except pypdfium2.PdfiumError:
                    part = None  # pdfminer may still read what pdfium cannot
            if part is None:
                page = plumber.page(number)
                part = _read_page(page, number)
                page.close()  # drop pdfplumber's per-page caches: memory stays per page
            parts.append(part)
            if on_page is not None:
                on_page(number)
    finally:
        plumber.close()
        if pdfium_doc is not None:
            pdfium_doc.close()
    return parts


_pool: ProcessPoolExecutor | None = None


def _executor(workers: int) -> ProcessPoolExecutor:
    """One pool per process, reused for every file. Spawned, not forked: the parent may already
    hold torch and ONNX Runtime threads, which a fork would copy in a broken state."""
    global _pool
    if _pool is None or _pool._max_workers != workers:
        if _pool is not None:
            _pool.shutdown(cancel_futures=True)
        _pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        )
    return _pool


def _read_parallel(
    path: Path,
    pages: tuple[int, int],
    workers: int,
    engine: str,
    on_page: Callable[[int], None],
    password: str | None = None,
) -> list[_PageParts]:
    first, last = pages
    size = max(4, math.ceil((last - first + 1) / (workers * 3)))
    ranges = [(start, min(start + size - 1, last)) for start in range(first, last + 1, size)]
    try:
        pool = _executor(workers)
        futures = {pool.submit(_read_range, str(path), a, b, engine, None, password): a for a, b in ranges}
        done: dict[int, list[_PageParts]] = {}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            for part in done[futures[future]]:
                on_page(part.info.number)
    except BrokenProcessPool:
        global _pool
        _pool = None
        raise
    return [part for first, _ in ranges for part in done[first]]


def _encrypted(password: str | None, detail: str) -> str:
    if password is None:
        return (
            f"encrypted PDF: cannot be opened without a password ({detail}); give it with --pdf-password "
            "(KBBUILD_PDF_PASSWORD) or [ingest] pdf_password_file"
        )
    return f"encrypted PDF: the password given for it is wrong ({detail})"


def _open(path: Path, password: str | None = None) -> tuple[dict[str, int], int]:
    """The outline and page count. Only pdfplumber and pdfminer run here, so anything raised is the
    file's structure failing them (fuzzing found a page without a MediaBox: a TypeError deep in
    pdfplumber); encryption keeps its own message."""
    try:
        with pdfplumber.open(str(path), laparams=LAPARAMS, password=password or "") as pdf:
            return _outline(pdf), len(pdf.pages)
    except MemoryError:
        raise
    except Exception as raw:
        error = _pdfminer_error(raw)
        if isinstance(error, (PDFPasswordIncorrect, PDFEncryptionError, PDFTextExtractionNotAllowed)):
            raise
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise InputError(f"corrupt PDF: its page tree cannot be read ({detail})") from None


@contextmanager
def _as_input_errors(password: str | None) -> Iterator[None]:
    """What pdfminer, pdfplumber and pdfium raise about a file, said as what is wrong with it."""
    try:
        yield
    except InputError:
        raise
    except Exception as raw:
        error = _pdfminer_error(raw)
        if isinstance(error, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise InputError(_encrypted(password, type(error).__name__)) from None
        if isinstance(error, PDFTextExtractionNotAllowed):
            raise InputError("the PDF forbids text extraction (encrypted with restrictions)") from None
        if isinstance(error, (PDFSyntaxError, PSEOF, PSException)):
            raise InputError(f"corrupt PDF: {error or type(error).__name__}") from None
        if isinstance(raw, PdfminerException):  # pdfplumber marks what pdfminer raised: malformed objects
            detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            raise InputError(f"corrupt PDF: pdfminer could not read it ({detail})") from None
        if isinstance(error, pypdfium2.PdfiumError) and "load document" in str(error):
            if "password" in str(error).lower():
                raise InputError(_encrypted(password, "pdfium")) from None
            raise InputError(f"corrupt PDF: {str(error).rstrip('.')}") from None
        raise


@dataclass(frozen=True)
class PdfFacts:
    """What is known of a PDF before any page is read."""

    outline: dict[str, int]  # bookmark titles -> heading level
    pages: int


def open_pdf(path: Path, password: str | None = None, max_pages: int | None = None) -> PdfFacts:
    """The outline and page count, with every page-count limit and structural failure said as an
    ``InputError`` before any page is read."""
    with _as_input_errors(password):
        outline, count = _open(path, password)
    if max_pages is not None and count > max_pages:
        raise InputError(f"the PDF has {count} pages, over the limit ([limits] pdf_pages = {max_pages})")
    if not count:
        raise InputError("corrupt PDF: no pages found")
    return PdfFacts(outline, count)


def _read_pages(
    path: Path,
    pages: tuple[int, int],
    on_page: Callable[[int], None],
    workers: int = 1,
    engine: str = "pdfium",
    password: str | None = None,
) -> list[_PageParts]:
    """The blocks, tables, figures and facts of pages ``first..last``. A long range is read by
    ``workers`` processes in sub-ranges; layout analysis is pure Python, so this is what uses the cores."""
    first, last = pages
    with _as_input_errors(password):
        if workers > 1 and last - first + 1 >= PARALLEL_MIN_PAGES:
            parts = _read_parallel(path, pages, workers, engine, on_page, password)
        else:
            parts = _read_range(str(path), first, last, engine, on_page, password)
    if not parts:
        raise InputError("corrupt PDF: no pages found")
    return parts


@dataclass
class FontStats:
    """The font sizes of a document's text so far: characters per size (the body size is the one
    that carries most) and the sizes of heading-shaped blocks. A long PDF read window by window is
    classified against every page read before, not one window alone, so its body size and heading
    levels stay the document's (a size first seen late can still shift the levels after it)."""

    chars_by_size: Counter[float] = field(default_factory=Counter)
    heading_sizes: set[float] = field(default_factory=set)

    def add(self, blocks: list[_Block]) -> None:
        for block in blocks:
            self.chars_by_size[block.size] += block.n_chars
            if _is_heading_shaped(block):
                self.heading_sizes.add(block.size)

    @property
    def body(self) -> float:
        """The font size carrying the most characters is the body text size."""
        return self.chars_by_size.most_common(1)[0][0] if self.chars_by_size else 0.0

    def size_levels(self, heading_ratio: float) -> dict[float, int]:
        """Heading level per font size: the largest heading-shaped size is level 1."""
        body = self.body
        big = sorted((size for size in self.heading_sizes if body and size >= body * heading_ratio), reverse=True)
        return {size: min(index + 1, 6) for index, size in enumerate(big)}


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
        and not is_not_a_section(text)
        and len(block.lines) <= MAX_HEADING_LINES
        and not text.rstrip().endswith((",", ";", "，", "；"))
        and letters >= 2
        and letters >= 0.5 * len(visible)
    )


def _classify(
    blocks: list[_Block], heading_ratio: float, outline: dict[str, int], fonts: FontStats
) -> list[tuple[_Block, ElementKind, int | None]]:
    """Title, headings with levels, paragraphs. Bookmarks are the author's own table of contents,
    so they decide first; then font size relative to the body text (``fonts``: the document's so far,
    these blocks included), then numbering."""
    size_level = fonts.size_levels(heading_ratio)
    title_block = None
    first_page = [b for b in blocks if b.page == 1 and b.size in size_level and _is_heading_shaped(b)]
    if first_page:
        title_block = max(first_page, key=lambda b: (b.size, -b.bbox[1]))
    deepest = len(size_level)
    out: list[tuple[_Block, ElementKind, int | None]] = []
    for block in blocks:
        bookmarked = outline.get(_normalise_heading(block.text)) if _is_heading_shaped(block) else None
        if bookmarked is not None:
            kind = ElementKind.TITLE if bookmarked < 1 else ElementKind.HEADING
            out.append((block, kind, None if bookmarked < 1 else bookmarked))
        elif block is title_block:
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


# "Table 3: ...", "Figure 2.1 - ...", "表1 ...", "图 2：..." (but not "Table 1 shows ...": prose).
_CAPTION = re.compile(
    r"^(?:(?:table|tab\.|figure|fig\.|chart|exhibit)\s*[\dA-Z]+(?:[.-]\d+)*\s*[:：.．\-–—|]"
    r"|[表图圖]\s*[\d一二三四五六七八九十]+(?:[.-]\d+)*)",
    re.I,
)


def _table_element(table: TextTable, page: int) -> Element:
    x0, top, x1, bottom = table.bbox
    return Element(
        kind=ElementKind.TABLE,
        text=to_markdown(table.rows, table.header_rows),
        page=page,
        bbox=BBox(x0=x0, y0=top, x1=x1, y1=bottom),
        parser=PARSER_NAME,
        method=ExtractionMethod.TABLE,
        html=to_html(table.rows, table.header_rows),
        meta={
            "rows": len(table.rows),
            "columns": len(table.rows[0]),
            "header_rows": table.header_rows,
            "strategy": table.strategy,
        },
    )


def _figure_element(figure: _Figure, page_height: float) -> Element:
    x0, y0, x1, y1 = figure.bbox
    return Element(
        kind=ElementKind.FIGURE,
        text="",
        page=figure.page,
        bbox=BBox(x0=x0, y0=page_height - y1, x1=x1, y1=page_height - y0),
        parser=PARSER_NAME,
    )


def _attach_captions(elements: list[Element], page_height: float) -> list[Element]:
    """Paragraphs that start like "Table 3" or "图 2" are captions; a figure or table takes the
    nearest caption within a fifth of the page, below or above it."""
    elements = [
        e.model_copy(update={"kind": ElementKind.CAPTION})
        if e.kind is ElementKind.PARAGRAPH and _CAPTION.match(e.text)
        else e
        for e in elements
    ]
    captions = [e for e in elements if e.kind is ElementKind.CAPTION and e.bbox]
    out = []
    for element in elements:
        if element.kind in (ElementKind.FIGURE, ElementKind.TABLE) and element.bbox and captions:
            box = element.bbox

            def distance(caption: Element, box: BBox = box) -> float:
                c = caption.bbox
                return min(abs(c.y0 - box.y1), abs(box.y0 - c.y1))

            nearest = min(captions, key=distance)
            if distance(nearest) <= page_height / 5:
                element = element.model_copy(
                    update={"meta": {**element.meta, "caption": " ".join(nearest.text.split())}}
                )
        out.append(element)
    return out


PAGE_HEAD_SHARE = 0.25  # a statement's title block sits in the top quarter of its page...
PAGE_HEAD_WIDTH = 0.6  # ...is at most this share of the page wide...
PAGE_HEAD_OFF_CENTRE = 0.1  # ...and centred within this share of the width
MAX_CAPTION_CHARS = 160


def _statement_captions(elements: list[Element], page: PageInfo) -> list[Element]:
    """A statement rebuilt from column blocks takes the page's title block as its caption when it has
    none of its own: the centred lines that open a statement's page (company, statement, period).
    Split over the chunk budget, every piece of the table then says which statement it belongs to,
    where the pieces would otherwise be rows of figures under an empty header."""
    tables = [e for e in elements if e.kind is ElementKind.TABLE and e.meta.get("strategy") in ("aligned", "grid")]
    if not tables or page.width <= 0:
        return elements
    head = next(
        (
            e
            for e in sorted(elements, key=lambda e: e.bbox.y0 if e.bbox else math.inf)
            if e.bbox is not None
            and e.kind not in (ElementKind.TABLE, ElementKind.FIGURE)
            and e.bbox.y0 <= PAGE_HEAD_SHARE * page.height
            and e.bbox.width <= PAGE_HEAD_WIDTH * page.width
            and abs((e.bbox.x0 + e.bbox.x1) / 2 - page.width / 2) <= PAGE_HEAD_OFF_CENTRE * page.width
            and e.text.strip()
        ),
        None,
    )
    if head is None:
        return elements
    caption = " ".join(head.text.split())[:MAX_CAPTION_CHARS]
    return [
        e.model_copy(update={"meta": {**e.meta, "caption": caption}})
        if e in tables and not e.meta.get("caption") and head.bbox.y1 <= (e.bbox.y0 if e.bbox else 0) + 1
        else e
        for e in elements
    ]


def read_text_layer(
    path: Path,
    heading_ratio: float,
    on_page: Callable[[int], None],
    workers: int = 1,
    engine: str = "pdfium",
    max_pages: int | None = None,
    password: str | None = None,
    *,
    pages: tuple[int, int] | None = None,
    facts: PdfFacts | None = None,
    fonts: FontStats | None = None,
) -> tuple[list[Element], list[PageInfo], str | None]:
    """Elements in reading order (XY-cut per page), page facts, and the document title if one
    stands out. Tables become table elements (Markdown text, HTML alongside) and their cells are
    kept out of the prose; figures become figure elements with their captions attached.

    ``pages`` (first, last) reads one window of a long PDF; ``facts`` and ``fonts`` are then the
    ones its earlier windows used, so that the file is opened once and classified as one document."""
    facts = facts or open_pdf(path, password, max_pages)
    parts = _read_pages(path, pages or (1, facts.pages), on_page, workers, engine, password)
    blocks = [b for part in parts for b in part.blocks]
    fonts = fonts if fonts is not None else FontStats()
    fonts.add(blocks)
    classified = _classify(blocks, heading_ratio, facts.outline, fonts)
    kinds = {id(block): (kind, level) for block, kind, level in classified}
    elements: list[Element] = []
    for part in parts:
        height = part.info.height
        page_elements = [_to_element(b, *kinds[id(b)], height) for b in part.blocks]
        page_elements += [_table_element(t, part.info.number) for t in part.tables]
        page_elements += [_figure_element(f, height) for f in part.figures]
        page_elements = _attach_captions(page_elements, height)
        page_elements = _statement_captions(page_elements, part.info)
        order = xy_cut_order([e.bbox for e in page_elements])  # type: ignore[misc]
        elements.extend(page_elements[i] for i in order)
    title = next((e.text.replace("\n", " ") for e in elements if e.kind is ElementKind.TITLE), None)
    return elements, [part.info for part in parts], title
