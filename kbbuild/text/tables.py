"""Tables as text: Markdown for embedding and reading, HTML kept alongside for fidelity.

A table is a grid of cells with the first row(s) as header; both renderings come from the same
grid, so they never disagree. Row and column spans from HTML are expanded by repeating the value,
which is what a reader of a Markdown table (human or LLM) needs to answer "which column is this".
"""

from __future__ import annotations

import html
from html.parser import HTMLParser


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


# Padding a ragged table to a rectangle is right for a real table (a short row has empty cells) and
# absurd for a hostile one: a first row of 5,000 cells over 20,000 one-cell rows would become 100
# million cells (over 10 GB). Past this share of empty padding (and size), rows keep their own length.
_MOSTLY_PADDING = 4
_PADDING_FLOOR = 100_000


def _pad_to_rectangle(rows: int, width: int, cells: int) -> bool:
    return rows * width <= max(_MOSTLY_PADDING * cells, _PADDING_FLOOR)


def to_markdown(rows: list[list[str]], header_rows: int = 1) -> str:
    """Markdown table; rows after ``header_rows`` are body rows. Ragged rows are padded, unless the
    padding would dwarf the table (then each row keeps its length, which Markdown readers accept)."""
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    pad = _pad_to_rectangle(len(rows), width, sum(map(len, rows)))
    grid = [[_cell(c) for c in r] + [""] * (width - len(r) if pad else 0) for r in rows]
    header_rows = max(1, min(header_rows, len(grid)))
    header_width = max(len(r) for r in grid[:header_rows])
    padded_header = [r + [""] * (header_width - len(r)) for r in grid[:header_rows]]
    header = [" ".join(dict.fromkeys(p for p in parts if p)) for parts in zip(*padded_header, strict=True)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * (width if pad else header_width)]
    lines.extend("| " + " | ".join(row) + " |" for row in grid[header_rows:])
    return "\n".join(lines)


def to_html(rows: list[list[str]], header_rows: int = 1) -> str:
    out = ["<table>"]
    for index, row in enumerate(rows):
        tag = "th" if index < header_rows else "td"
        cells = "".join(f"<{tag}>{html.escape(' '.join((c or '').split()))}</{tag}>" for c in row)
        out.append(f"<tr>{cells}</tr>")
    out.append("</table>")
    return "".join(out)


class _GridParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, int, int, bool]]] = []
        self._cell: list[str] | None = None
        self._span = (1, 1)
        self._is_header = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            if not self.rows:
                self.rows.append([])
            self._cell = []
            self._is_header = tag == "th"
            self._span = (_int(attributes.get("rowspan")), _int(attributes.get("colspan")))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(("".join(self._cell), *self._span, self._is_header))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _int(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def grid_from_html(markup: str) -> tuple[list[list[str]], int]:
    """(rows, header row count) from an HTML table, spans expanded. Header rows are the leading rows
    made of ``<th>`` cells, or inside ``<thead>``; at least one row is always treated as header."""
    parser = _GridParser()
    parser.feed(markup)
    grid: dict[tuple[int, int], str] = {}
    header_flags: list[bool] = []
    for r, row in enumerate(parser.rows):
        c = 0
        header_flags.append(bool(row) and all(is_header for *_, is_header in row))
        for text, rowspan, colspan, _ in row:
            while (r, c) in grid:
                c += 1
            for dr in range(rowspan):
                for dc in range(colspan):
                    grid[(r + dr, c + dc)] = text.strip()
            c += colspan
    if not grid:
        return [], 0
    n_rows = max(r for r, _ in grid) + 1
    n_cols = max(c for _, c in grid) + 1
    if _pad_to_rectangle(n_rows, n_cols, len(grid)):
        rows = [[grid.get((r, c), "") for c in range(n_cols)] for r in range(n_rows)]
    else:
        last = [-1] * n_rows
        for r, c in grid:
            last[r] = max(last[r], c)
        rows = [[grid.get((r, c), "") for c in range(last[r] + 1)] for r in range(n_rows)]
    thead = markup.lower().count("<thead")
    header_rows = 0
    for flag in header_flags:
        if not flag:
            break
        header_rows += 1
    if thead and header_rows == 0:
        header_rows = 1
    return rows, max(header_rows, 1)
