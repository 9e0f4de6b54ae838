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


def table_signal(layout: LTPage) -> bool:
    rulings = sum(isinstance(item, (LTRect, LTLine, LTCurve)) for item in layout)
    if rulings >= MIN_RULINGS:
        return True
    numeric = 0
    for box in layout:
        if isinstance(box, LTTextBox):
            for line in box:
                if isinstance(line, LTTextLine) and _is_numeric(line.get_text().strip()):
                    numeric += 1
    return numeric >= MIN_NUMERIC_LINES


def _clean(rows: list[list[str | None]]) -> list[list[str]]:
    cleaned = [[" ".join((cell or "").split()) for cell in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return []
    keep = [c for c in range(len(cleaned[0])) if any(row[c] for row in cleaned if c < len(row))]
    return [[row[c] if c < len(row) else "" for c in keep] for row in cleaned]


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


def find_tables(page) -> list[TextTable]:
    """Tables on one pdfplumber page (call only when ``table_signal`` said so)."""
    found: list[TextTable] = []
    for table in page.find_tables():
        rows = _clean(table.extract())
        if len(rows) >= 2 and len(rows[0]) >= 2:
            found.append(TextTable(rows, header_row_count(rows), tuple(table.bbox), "lines"))
    if found:
        return found
    for table in page.find_tables({"vertical_strategy": "text", "horizontal_strategy": "text"}):
        rows = _clean(table.extract())
        if _looks_like_data(rows):
            found.append(TextTable(rows, header_row_count(rows), tuple(table.bbox), "text"))
    return found
