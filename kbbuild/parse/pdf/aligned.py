"""Statement tables that layout analysis cut into columns of text, put back together row by row.

An unruled financial statement is a column of labels beside columns of amounts. pdfminer groups
characters into boxes by proximity, and the gap between a label and its amount is wider than the gap
between one line and the next, so each column becomes a box of its own: the labels in one paragraph,
each period's amounts in another (a cash-flow statement of a Taiwanese filing came out as
"營業活動之淨現金流入 / 投資活動之淨現金流出 / …" followed by "3,465,093 / (4,844,175) / …"), and
no chunk says which amount belongs to which line. pdfplumber's text strategy misses such tables too
when a column is only a handful of lines.

The boxes still know where each line sits. Boxes standing side by side over the same stretch of the
page, one of them mostly amounts, are one table: their lines are matched into rows by height on the
page and into columns by horizontal position, and the table replaces the boxes. Nothing else is
touched: a page without a column of amounts beside other boxes keeps its paragraphs.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Protocol

Box = tuple[float, float, float, float]  # pdfminer coordinates: x0, y0 (bottom), x1, y1 (top)

MIN_AMOUNT_LINES = 2  # a column of amounts has at least this many lines...
AMOUNT_SHARE = 0.6  # ...and at least this share of its lines are amounts
MIN_ROWS = 3
WIDE_LINE = 0.5  # a line wider than this share of the table spans columns (a title, a header)
ROW_TOLERANCE = 0.55  # lines whose centres are within this many line heights share a row

_AMOUNT = re.compile(r"^[\s$€£¥%()（）+,.\-—–\d]*\d[\s$€£¥%()（）+,.\-—–\d]*$|^[\s$(（]*[-—–]+[\s)）]*$")


class ColumnBlock(Protocol):
    """What this module needs of a text block: its lines and where each one is."""

    lines: list[str]
    line_boxes: list[Box]
    bbox: Box


@dataclass(frozen=True)
class AlignedTable:
    """Rows of cell texts, top to bottom, and the blocks (by index) they were made of."""

    rows: list[list[str]]
    members: frozenset[int]
    bbox: Box


def is_amount(text: str) -> bool:
    """A number as statements print them: "3,465,093", "(4,844,175)", "$ 1,900,674", "12.5%", "-"."""
    return bool(text.strip()) and bool(_AMOUNT.match(text.strip()))


def header_rows(rows: list[list[str]]) -> int:
    """Leading rows without an amount that have text over the amount columns (the periods, "金額 %").
    A leading row with text in the label columns only is a section of the statement ("流動負債"),
    not its header: repeated over every piece of a long table, it would misname all of them."""
    width = max(len(row) for row in rows)
    amount_columns = []
    for column in range(width):
        cells = [row[column] for row in rows if column < len(row) and row[column]]
        if cells and sum(is_amount(cell) for cell in cells) >= 0.5 * len(cells):
            amount_columns.append(column)
    count = 0
    for row in rows[: min(3, len(rows) - 1)]:
        if any(is_amount(cell) for cell in row) or not any(c < len(row) and row[c] for c in amount_columns):
            break
        count += 1
    return count


def _is_amount_column(block: ColumnBlock) -> bool:
    """Mostly amounts, and not only dashes ("–" is a nil amount, but a column of nothing but
    dashes beside a table's labels is that table's margin)."""
    texts = [t for t in block.lines if t.strip()]
    amounts = sum(is_amount(t) for t in texts)
    figures = sum(is_amount(t) and any(c.isdigit() for c in t) for t in texts)
    return figures >= MIN_AMOUNT_LINES and amounts >= AMOUNT_SHARE * len(texts)


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def _vertical(box: Box) -> tuple[float, float]:
    return box[1], box[3]


def _horizontal(box: Box) -> tuple[float, float]:
    return box[0], box[2]


def _mostly_within(box: Box, span: tuple[float, float]) -> bool:
    """Most of the box's height lies inside the vertical ``span``."""
    height = max(box[3] - box[1], 1e-6)
    return _overlap(_vertical(box), span) >= 0.5 * height


def _groups(blocks: list[ColumnBlock]) -> list[set[int]]:
    """Sets of blocks that stand side by side with a column of amounts, over the same stretch of page."""
    amount_columns = [i for i, block in enumerate(blocks) if _is_amount_column(block)]
    taken: set[int] = set()
    groups = []
    for seed in amount_columns:
        if seed in taken:
            continue
        group = {seed}
        span = _vertical(blocks[seed].bbox)
        grew = True
        while grew:
            grew = False
            for index, block in enumerate(blocks):
                if index in group or index in taken or not _mostly_within(block.bbox, span):
                    continue
                group.add(index)
                span = (min(span[0], block.bbox[1]), max(span[1], block.bbox[3]))
                grew = True
        # Side by side: the blocks must not all be stacked in one column.
        lefts = sorted({round(blocks[i].bbox[0]) for i in group})
        if len(group) >= 2 and lefts[-1] > lefts[0]:
            taken |= group
            groups.append(group)
    return groups


def _bands(lines: list[tuple[str, Box]], width: float) -> list[tuple[float, float]]:
    """Column bands: horizontal extents of the narrow lines, merged where they overlap."""
    spans = sorted(_horizontal(box) for _, box in lines if box[2] - box[0] <= WIDE_LINE * width)
    bands: list[list[float]] = []
    for start, end in spans:
        if bands and start < bands[-1][1]:
            bands[-1][1] = max(bands[-1][1], end)
        else:
            bands.append([start, end])
    return [(start, end) for start, end in bands]


def _cells(row: list[tuple[str, Box]], bands: list[tuple[float, float]]) -> list[str]:
    """One text per band. A line over several bands goes to the first, unless it has exactly one
    word per band it covers (a header row set as one line: "112年3月31日 111年12月31日 111年3月31日")."""
    cells: list[list[str]] = [[] for _ in bands]
    for text, box in sorted(row, key=lambda item: item[1][0]):
        covered = [b for b, band in enumerate(bands) if _overlap(_horizontal(box), band) > 0]
        if not covered:
            nearest = min(range(len(bands)), key=lambda b: abs((bands[b][0] + bands[b][1]) / 2 - (box[0] + box[2]) / 2))
            covered = [nearest]
        words = text.split()
        if len(covered) > 1 and len(words) == len(covered):
            for band, word in zip(covered, words, strict=True):
                cells[band].append(word)
        else:
            cells[covered[0]].append(text.strip())
    return [" ".join(" ".join(parts).split()) for parts in cells]


def _move_parentheses(cells: list[str]) -> list[str]:
    """An opening parenthesis set close to the next column ends up on the line before it:
    "流出 (" | "4,844,175) (" | "3,395,771)" is "流出" | "(4,844,175)" | "(3,395,771)"."""
    out = list(cells)
    pending = None  # the cell whose trailing "(" waits for the next filled cell
    for index, cell in enumerate(out):
        if not cell:
            continue
        if pending is not None and ")" in cell and "(" not in cell.split(")")[0]:
            out[pending] = out[pending][:-1].rstrip()
            cell = out[index] = "(" + cell
        pending = index if cell.endswith(("(", "（")) else None
    return out


def _rows(lines: list[tuple[str, Box]]) -> list[list[tuple[str, Box]]]:
    """Lines grouped by their height on the page, top row first."""
    height = statistics.median(box[3] - box[1] for _, box in lines) or 1.0
    rows: list[tuple[float, list[tuple[str, Box]]]] = []
    for text, box in sorted(lines, key=lambda item: -(item[1][1] + item[1][3]) / 2):
        centre = (box[1] + box[3]) / 2
        if rows and abs(rows[-1][0] - centre) <= ROW_TOLERANCE * height:
            rows[-1][1].append((text, box))
        else:
            rows.append((centre, [(text, box)]))
    return [row for _, row in rows]


def _line_height(blocks: list[ColumnBlock]) -> float:
    heights = [box[3] - box[1] for block in blocks for box in block.line_boxes]
    return statistics.median(heights) if heights else 10.0


def _span(blocks: list[ColumnBlock], group: set[int], axis: int) -> tuple[float, float]:
    return min(blocks[i].bbox[axis] for i in group), max(blocks[i].bbox[axis + 2] for i in group)


def _amount_span(blocks: list[ColumnBlock], group: set[int]) -> tuple[float, float]:
    columns = {i for i in group if _is_amount_column(blocks[i])} or group
    return _span(blocks, columns, 0)


def _one_line(block: ColumnBlock) -> bool:
    return len([t for t in block.lines if t.strip()]) == 1


def _adjacent_rows(blocks: list[ColumnBlock], group: set[int], free: set[int], gap: float) -> set[int]:
    """One-line blocks within ``gap`` above or below the group that belong to it: period headers over
    its amounts ("112年3月31日 111年12月31日"), and rows set a little apart that hold an amount
    (a subtotal: "2XXX | 負債總計 | 16,851,006 | 31"), all within the group's width."""
    bottom, top = _span(blocks, group, 1)
    left, right = _span(blocks, group, 0)
    amounts = _amount_span(blocks, group)
    rows: dict[int, list[int]] = {}
    for index in free:
        block = blocks[index]
        if not _one_line(block) or block.bbox[0] < left - gap or block.bbox[2] > right + gap:
            continue
        above = 0 <= block.bbox[1] - top <= gap
        below = 0 <= bottom - block.bbox[3] <= gap
        if above or below:
            rows.setdefault(round((block.bbox[1] + block.bbox[3]) / gap), []).append(index)
    joined: set[int] = set()
    for members in rows.values():
        header = all(
            blocks[i].bbox[1] >= top and blocks[i].bbox[0] >= amounts[0] - gap and not is_amount(blocks[i].lines[0])
            for i in members
        )
        if header or any(is_amount(blocks[i].lines[0]) for i in members):
            joined.update(members)
    return joined


def _extended(blocks: list[ColumnBlock], groups: list[set[int]], gap: float) -> list[tuple[set[int], set[int]]]:
    """Each group with the rows set apart from it (``_adjacent_rows``), then consecutive groups over
    the same amount columns joined (a statement's sections, set a little apart). Returned with the
    core of each (the blocks side by side, without the rows joined to them): only the core's lines
    draw the columns, since a header set letter by letter across two columns would merge them."""
    free = set(range(len(blocks))) - set().union(*groups) if groups else set()
    out: list[tuple[set[int], set[int]]] = []
    for core in sorted(groups, key=lambda g: -_span(blocks, g, 1)[1]):
        group = set(core)
        while joined := _adjacent_rows(blocks, group, free, gap):
            group |= joined
            free -= joined
        if out:
            previous, previous_core = out[-1]
            close = 0 <= _span(blocks, previous, 1)[0] - _span(blocks, group, 1)[1] <= gap
            if close and _overlap(_amount_span(blocks, previous), _amount_span(blocks, group)) > 0:
                previous |= group
                previous_core |= core
                continue
        out.append((group, set(core)))
    return out


def _lines(blocks: list[ColumnBlock], members: set[int]) -> list[tuple[str, Box]]:
    return [
        (text, box)
        for i in sorted(members)
        for text, box in zip(blocks[i].lines, blocks[i].line_boxes, strict=True)
        if text.strip()
    ]


def aligned_tables(blocks: list[ColumnBlock]) -> list[AlignedTable]:
    """The statement tables among a page's blocks (see the module's docstring)."""
    found = []
    for group, core in _extended(blocks, _groups(blocks), 1.5 * _line_height(blocks)):
        lines = _lines(blocks, group)
        x0 = min(box[0] for _, box in lines)
        x1 = max(box[2] for _, box in lines)
        bands = _bands(_lines(blocks, core), x1 - x0)
        if len(bands) < 2:
            continue
        rows = [_move_parentheses(_cells(row, bands)) for row in _rows(lines)]
        with_amounts = sum(any(is_amount(cell) for cell in row) for row in rows)
        if len(rows) < MIN_ROWS or with_amounts < MIN_AMOUNT_LINES:
            continue
        bbox = (x0, min(box[1] for _, box in lines), x1, max(box[3] for _, box in lines))
        found.append(AlignedTable(rows, frozenset(group), bbox))
    return found
