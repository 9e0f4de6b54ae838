"""Tables in the text layer, found with pdfplumber's table finder on the same pdfminer layout.

pdfplumber converts every character of a page into a Python dict before it can look for tables;
that doubles the cost of a page. So the finder runs only on pages whose layout shows a table
signal: ruling lines and rectangles (ruled tables), or many short numeric lines (unruled financial
tables). Unruled candidates from the "text" strategy are kept only if they look like data: several
rows and columns and a good share of numeric cells; otherwise ordinary two-column prose would be
taken for a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pdfminer.layout import LTCurve, LTLine, LTPage, LTRect, LTTextBox, LTTextLine

from kbbuild.parse.pdf.cjk_spacing import squeeze_cjk_spaces

MIN_RULINGS = 4
MIN_NUMERIC_LINES = 8
_NUMERIC = re.compile(r"^[\s$€£¥%()+,.\-—–\d]*\d[\s$€£¥%()+,.\-—–\d]*$")


@dataclass(frozen=True)
class TextTable:
    """A table found on a text-layer page: cell texts row by row, top-left-origin bbox (points)."""

    rows: list[list[str]]
    header_rows: int
    bbox: tuple[float, float, float, float]
    strategy: str


def _is_numeric(cell: str) -> bool:
    return bool(cell) and bool(_NUMERIC.match(cell))


@dataclass(frozen=True)
class TableSignal:
    """What the page layout says about tables, counted without pdfplumber's per-char cost."""

    horizontal: int  # thin horizontal rules
    vertical: int  # thin vertical rules
    boxes: int  # filled or stroked rectangles (cell backgrounds, ruled cells)
    numeric_lines: int

    @property
    def worth_looking(self) -> bool:
        return self.horizontal + self.vertical + self.boxes >= MIN_RULINGS or self.numeric_lines >= MIN_NUMERIC_LINES


def table_signal(layout: LTPage) -> TableSignal:
    horizontal = vertical = boxes = numeric = 0
    for item in layout:
        if isinstance(item, (LTRect, LTLine, LTCurve)):
            if item.height < 2 and item.width > 10:
                horizontal += 1
            elif item.width < 2 and item.height > 10:
                vertical += 1
            elif item.width >= 2 and item.height >= 2:
                boxes += 1
        elif isinstance(item, LTTextBox):
            for line in item:
                if isinstance(line, LTTextLine) and _is_numeric(line.get_text().strip()):
                    numeric += 1
    return TableSignal(horizontal, vertical, boxes, numeric)


_CURRENCY_ONLY = re.compile(r"^[$€£¥%)]+$")


def _fold_currency(row: list[str]) -> list[str]:
    """Financial tables set "$" in a column of its own: fold it into the amount next to it."""
    out = list(row)
    for c in range(len(out) - 1):  # "$5,363 $" | "4,869": the trailing "$" belongs to the next amount
        if out[c].endswith((" $", " €", " £", " ¥")) and out[c + 1] and out[c + 1][0].isdigit():
            out[c], out[c + 1] = out[c][:-2], out[c][-1] + out[c + 1]
        elif len(out[c]) > 1 and out[c][-1] in "$€£¥" and out[c][-2].isdigit() and out[c + 1][:1].isdigit():
            out[c], out[c + 1] = out[c][:-1], out[c][-1] + out[c + 1]
    for c, cell in enumerate(out):
        if _CURRENCY_ONLY.match(cell):
            if c + 1 < len(out) and out[c + 1] and cell in "$€£¥":
                out[c + 1] = cell + out[c + 1]
                out[c] = ""
            elif c > 0 and out[c - 1]:
                out[c - 1] = out[c - 1] + cell
                out[c] = ""
    return out


def clean_rows(rows: list[list[str | None]]) -> list[list[str]]:
    cleaned = [_fold_currency([squeeze_cjk_spaces(" ".join((cell or "").split())) for cell in row]) for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return []
    keep = [c for c in range(len(cleaned[0])) if any(row[c] for row in cleaned if c < len(row))]
    return [[row[c] if c < len(row) else "" for c in keep] for row in cleaned]


def _is_prose_row(cells: list[str | None]) -> bool:
    """A paragraph caught above or below a table: one long run of words, the other cells empty."""
    filled = [c for c in cells if c and c.strip()]
    return len(filled) <= 2 and sum(len(c) for c in filled) > 60 and not any(_is_numeric(c) for c in filled)


def _centre(char: dict) -> tuple[float, float]:
    return (char["x0"] + char["x1"]) / 2, (char["top"] + char["bottom"]) / 2


def extract_cells(table) -> list[list[str | None]]:
    """What pdfplumber's ``Table.extract()`` returns, found faster.

    pdfplumber tests every character of the page against every row of the table, which on a
    statement page is millions of tests (two thirds of the parse time of a 10-Q went to tables).
    Here the characters are sorted once by their vertical centre and each row takes its band by
    bisection. The rule is the same (a character belongs to the cell its centre is in, half-open
    on the right and bottom) and characters keep their page order, so the text is identical.
    """
    from bisect import bisect_left

    from pdfplumber.utils import extract_text

    chars = table.page.chars
    order = sorted(range(len(chars)), key=lambda i: _centre(chars[i])[1])
    middles = [_centre(chars[i])[1] for i in order]
    table_rows: list[list[str | None]] = []
    for row in table.rows:
        x0, top, x1, bottom = row.bbox
        band = sorted(order[bisect_left(middles, top) : bisect_left(middles, bottom)])
        row_chars = [chars[i] for i in band if x0 <= _centre(chars[i])[0] < x1]
        cells: list[str | None] = []
        for cell in row.cells:
            if cell is None:
                cells.append(None)
                continue
            left, upper, right, lower = cell
            inside = [c for c in row_chars if left <= _centre(c)[0] < right and upper <= _centre(c)[1] < lower]
            cells.append(extract_text(inside) if inside else "")
        table_rows.append(cells)
    return table_rows


def _trimmed(table) -> tuple[list[list[str | None]], tuple[float, float, float, float]] | None:
    """Rows without leading/trailing prose, and the box of just those rows (the prose stays prose)."""
    rows = extract_cells(table)
    boxes = [row.bbox for row in table.rows]
    start, stop = 0, len(rows)
    while start < stop and _is_prose_row(rows[start]):
        start += 1
    while stop > start and _is_prose_row(rows[stop - 1]):
        stop -= 1
    if start == stop:
        return None
    kept = boxes[start:stop]
    bbox = (min(b[0] for b in kept), min(b[1] for b in kept), max(b[2] for b in kept), max(b[3] for b in kept))
    return rows[start:stop], bbox


def header_row_count(rows: list[list[str]]) -> int:
    """Leading rows without numbers are headers (up to 3), as long as a body remains."""
    count = 0
    for row in rows[: min(3, len(rows) - 1)]:
        filled = [c for c in row if c]
        if filled and not any(_is_numeric(c) for c in filled):
            count += 1
        else:
            break
    return max(count, 1)


def _looks_like_data(rows: list[list[str]]) -> bool:
    cells = [c for row in rows for c in row if c]
    if len(rows) < 3 or len(rows[0]) < 2 or not cells:
        return False
    return sum(_is_numeric(c) for c in cells) >= 0.3 * len(cells)


def _strategies(signal: TableSignal) -> list[tuple[str, dict]]:
    """Fully ruled grids first; rows ruled but columns not (the usual financial statement) next;
    whitespace-aligned numbers last. Each later strategy only runs if the earlier found nothing."""
    plans: list[tuple[str, dict]] = []
    if signal.vertical >= 2 or signal.boxes >= MIN_RULINGS:
        plans.append(("lines", {}))
    if signal.horizontal >= 2:
        plans.append(("rules+text", {"vertical_strategy": "text", "horizontal_strategy": "lines"}))
    if signal.numeric_lines >= MIN_NUMERIC_LINES:
        plans.append(("text", {"vertical_strategy": "text", "horizontal_strategy": "text"}))
    return plans


MIN_COLUMN_GAP = 4.0  # points of whitespace that separate two columns


def _within_page(page, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    x0, top, x1, bottom = page.bbox
    clipped = (max(bbox[0], x0), max(bbox[1], top), min(bbox[2], x1), min(bbox[3], bottom))
    return clipped if clipped[2] > clipped[0] and clipped[3] > clipped[1] else None


def whitespace_columns(page, bbox: tuple[float, float, float, float]) -> list[float]:
    """Column separators for a table without vertical rules: the middles of the vertical strips
    of whitespace that no word in the table crosses. Lines spanning most of the width without a
    number (titles, notes) are ignored, since they would close every gap."""
    x0, _top, x1, _bottom = bbox
    words = page.within_bbox(bbox).extract_words(x_tolerance=1.5, y_tolerance=2)
    lines: dict[int, list[dict]] = {}
    for word in words:
        lines.setdefault(round(word["top"] / 3), []).append(word)
    spans: list[tuple[float, float]] = []
    for line_words in lines.values():
        left, right = min(w["x0"] for w in line_words), max(w["x1"] for w in line_words)
        wide = right - left > 0.6 * (x1 - x0)
        if wide and not any(any(ch.isdigit() for ch in w["text"]) for w in line_words):
            continue
        spans.extend((w["x0"], w["x1"]) for w in line_words)
    if not spans:
        return []
    # The outer separators hug the words, not the box: pdfplumber's text-strategy row edges end
    # at the last word, and a separator beyond its snap tolerance would lose the last column.
    separators = [max(x0, min(start for start, _ in spans))]
    reach = None
    for start, end in sorted(spans):
        if reach is not None and start - reach >= MIN_COLUMN_GAP:
            separators.append((reach + start) / 2)
        reach = end if reach is None else max(reach, end)
    separators.append(min(x1, reach))
    return separators


def _extract_by_whitespace(page, bbox) -> list[list[str | None]] | None:
    bbox = _within_page(page, bbox)
    if bbox is None:
        return None
    columns = whitespace_columns(page, bbox)
    if len(columns) < 3:
        return None
    settings = {"vertical_strategy": "explicit", "explicit_vertical_lines": columns, "horizontal_strategy": "text"}
    return page.within_bbox(bbox).extract_table(settings)


def find_tables(page, signal: TableSignal) -> list[TextTable]:
    """Tables on one pdfplumber page (call only when ``signal.worth_looking``)."""
    for strategy, settings in _strategies(signal):
        found = []
        for table in page.find_tables(settings):
            trimmed = _trimmed(table)
            if trimmed is None:
                continue
            raw, bbox = trimmed
            ruled = strategy == "lines"
            if not ruled:  # columns from whitespace, so that no word is cut in two
                raw = _extract_by_whitespace(page, bbox) or []
            rows = clean_rows(raw)
            if (ruled and len(rows) >= 2 and len(rows[0]) >= 2) or (not ruled and _looks_like_data(rows)):
                found.append(TextTable(rows, header_row_count(rows), bbox, strategy))
        if found:
            return found
    return []
