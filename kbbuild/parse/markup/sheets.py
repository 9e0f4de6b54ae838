"""Large spreadsheets, read row window by row window.

unstructured reads a workbook whole into pandas frames and then into one HTML table per sheet; a
sheet of 100,000 rows went past 1.5 GB that way. Above ``LARGE_SHEET_BYTES`` of sheet XML kbbuild reads the
sheets itself with openpyxl's streaming mode: each sheet is a heading, and its rows become tables
of ``WINDOW_ROWS`` rows, each under the sheet's first row as header, so memory follows the window
and every table (and every chunk cut from it) can be read alone. Smaller workbooks stay with
unstructured, which also finds several tables on one sheet.
"""

from __future__ import annotations

import datetime
import zipfile
from collections.abc import Iterator
from pathlib import Path

from kbbuild.parse.markup.elements import markup_element
from kbbuild.records import Element, ElementKind
from kbbuild.text.tables import to_html, to_markdown

# Inflated size of the worksheets' XML, read from the zip directory: about 56 bytes a cell, so 4 MB
# is some 70,000 cells. (A sheet's declared used range is no measure: writers may leave it out.)
LARGE_SHEET_BYTES = 4 * 1024 * 1024
WINDOW_ROWS = 500


def sheet_bytes(path: Path) -> int:
    """Inflated bytes of the workbook's worksheet parts."""
    with zipfile.ZipFile(path) as archive:
        return sum(
            member.file_size for member in archive.infolist() if member.filename.startswith("xl/worksheets/sheet")
        )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    return str(value)


def _table(rows: list[list[str]], parser: str, page: int, first_row: int) -> Element:
    width = max(len(row) for row in rows)
    meta = {"rows": len(rows), "columns": width, "first_row": first_row}
    return markup_element(ElementKind.TABLE, to_markdown(rows), parser, page=page, html=to_html(rows), meta=meta)


def read_sheets(path: Path, parser: str) -> Iterator[Element]:
    """Each sheet's name as a heading, then its rows as tables of ``WINDOW_ROWS`` under its header row.
    The sheet number is the element's page, as unstructured numbers sheets."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        for number, sheet in enumerate(book.worksheets, start=1):
            yield markup_element(ElementKind.HEADING, sheet.title, parser, page=number, level=1)
            header: list[str] | None = None
            window: list[list[str]] = []
            first_row = 0
            for index, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = [_cell(value) for value in values]
                while cells and not cells[-1]:
                    cells.pop()
                if not cells:
                    continue
                if header is None:
                    header = cells
                    continue
                if not window:
                    first_row = index
                window.append(cells)
                if len(window) == WINDOW_ROWS:
                    yield _table([header, *window], parser, number, first_row)
                    window = []
            if window:
                yield _table([header or [], *window], parser, number, first_row)
            elif header is not None:
                yield _table([header], parser, number, 1)
    finally:
        book.close()
