"""Statement pages rebuilt as tables from the position of every word.

Some statements defeat both table finders. A landscape statement of changes in equity has a dozen
amount columns under headers four to six lines tall, spanning headers ("歸屬於母公司業主之權益",
spread a character per column across the page) above the columns' own names, and only the amounts
underlined: pdfplumber's finder reads such a grid in fragments (nine amounts in one cell, the label
column left out as prose), and layout analysis cuts it into one box per label. A balance sheet whose
account codes, labels and notes stand in columns of their own came out with the codes a row apart
from their labels.

The words still say everything. On a statement, every row is one line of the page: its label words
on the left, then a run of amounts to the end of the line. Amounts are right-aligned, so their right
edges fall into a few clusters, one per column. Lines between two rows of amounts that stay left
of the amounts are the statement's section titles and wrapped labels. The lines just above the first
row, over the amounts, are the header: a word goes to the column whose right edge it sits before,
and a phrase that spreads over several columns (an underlined span, or characters set far apart)
heads all of them. It is written once, in the first column it spans, as a printed table shows it:
``Twelve Months Ended June 30, 2023 / EBITDA | EBIT | Net Income``. Repeated in every column, an
eight-column header took 150 of a chunk's 180 tokens, and a table split by rows (its header
repeated in every piece) became one chunk per row.

The grid is only a candidate: the page reader keeps it where it explains more of the page's amounts
(cells holding exactly one amount) than the tables it overlaps (``grid_wins``).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise

from pdfminer.layout import LTAnno, LTChar, LTCurve, LTLine, LTPage, LTRect, LTTextBox, LTTextLine

from kbbuild.parse.pdf.aligned import is_amount
from kbbuild.parse.pdf.cjk_spacing import squeeze_cjk_spaces
from kbbuild.parse.pdf.tables import TextTable, clean_rows

WORD_GAP = 1.5  # points between two glyphs that still belong to one word (pdfplumber's default)
COLUMN_EDGE = 6.0  # right edges of one column's amounts lie within this many points
MIN_AMOUNT_ROWS = 4
MIN_COLUMNS = 2
COLUMN_SUPPORT = 0.25  # a column holds amounts on at least this share of the statement's rows
MAX_BRIDGED_LINES = 6  # label-only lines allowed between two rows of amounts
MAX_HEADER_LINES = 8
HEADER_GAP = 2.6  # header lines lie within this many glyph heights of each other
SPREAD_GAP = 1.5  # characters set this many glyph widths apart are one phrase spread over columns
LATIN_WORD_GAP = 0.6  # glyph heights between two words of one Latin phrase
LABEL_GAP = 4.0  # whitespace separating two label columns (code | label | note)

_MARKERS = frozenset({"$", "(", "($", "$(", ")", "%", "€", "£", "¥", "NT$", "（", "）"})
_UNIT = re.compile(r"^(單位|单位)[:：]|^\(?in (thousands|millions|billions)", re.IGNORECASE)
_DATE_PART = re.compile(r"^(19|20)\d\d[,.]?$|^\d{1,2},$")
_CODE = re.compile(r"^[0-9A-Z]{1,6}$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3001-\u303f\uff01-\uff60]")


@dataclass(frozen=True)
class Word:
    """A run of glyphs without a gap, in top-left coordinates (points)."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float

    @property
    def centre(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class Rule:
    """A horizontal rule (an underline), merged from the short segments PDFs draw it with."""

    x0: float
    x1: float
    y: float


@dataclass
class _Line:
    words: list[Word]

    @property
    def top(self) -> float:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> float:
        return max(w.bottom for w in self.words)

    @property
    def x0(self) -> float:
        return min(w.x0 for w in self.words)

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @property
    def glyph(self) -> float:
        return statistics.median(w.height for w in self.words)


@dataclass
class _Row:
    """A body line split into its label words and its amounts (text, x0, x1)."""

    line: _Line
    label: list[Word]
    amounts: list[Word]


# ---------------------------------------------------------------- words and rules of a layout


def _text_lines(item) -> Iterator[LTTextLine]:
    if isinstance(item, LTTextLine):
        yield item
    elif isinstance(item, (LTTextBox, LTPage)):
        for child in item:
            yield from _text_lines(child)


def words_of_layout(layout: LTPage) -> list[Word]:
    """The page's words: each text line's glyphs split where a gap or a space falls."""
    height = layout.height
    words: list[Word] = []
    for line in _text_lines(layout):
        run: list[LTChar] = []
        for item in [*line, None]:
            glyph = item if isinstance(item, LTChar) and item.get_text().strip() else None
            if glyph is not None and run and glyph.x0 - run[-1].x1 <= WORD_GAP:
                run.append(glyph)
                continue
            if run:
                text = "".join(c.get_text() for c in run)
                top = height - max(c.y1 for c in run)
                bottom = height - min(c.y0 for c in run)
                words.append(Word(text, run[0].x0, run[-1].x1, top, bottom))
            run = [glyph] if glyph is not None else []
            if item is not None and not isinstance(item, (LTChar, LTAnno)):
                run = []
    return words


def rules_of_layout(layout: LTPage) -> list[Rule]:
    """Horizontal rules, segments on one height that touch merged into one."""
    height = layout.height
    segments = sorted(
        (round(height - (item.y0 + item.y1) / 2, 1), item.x0, item.x1)
        for item in layout
        if isinstance(item, (LTRect, LTLine, LTCurve)) and item.height < 2 and item.width > 3
    )
    rules: list[list[float]] = []
    for y, x0, x1 in segments:
        if rules and abs(rules[-1][2] - y) < 1 and x0 - rules[-1][1] <= 2:
            rules[-1][1] = max(rules[-1][1], x1)
        else:
            rules.append([x0, x1, y])
    return [Rule(x0, x1, y) for x0, x1, y in rules]


def _visual_lines(words: Iterable[Word]) -> list[_Line]:
    """Words grouped into lines by their vertical centre. Digits and CJK of one line may sit a
    point apart (two fonts), so the tolerance is half a glyph, not pdfminer's exact baseline."""
    lines: list[_Line] = []
    for word in sorted(words, key=lambda w: (w.top + w.bottom) / 2):
        middle = (word.top + word.bottom) / 2
        if lines:
            last = lines[-1]
            last_middle = statistics.fmean((w.top + w.bottom) / 2 for w in last.words)
            if abs(middle - last_middle) <= max(2.5, 0.45 * word.height):
                last.words.append(word)
                continue
        lines.append(_Line([word]))
    for line in lines:
        line.words.sort(key=lambda w: w.x0)
    return lines


# ---------------------------------------------------------------- amounts on a line


def _is_figure(text: str) -> bool:
    return is_amount(text) and any(ch.isdigit() for ch in text)


def _split_row(line: _Line) -> _Row:
    """The trailing run of amounts (and "$", "(" marks) is the row's figures; the rest is label."""
    cut = len(line.words)
    while cut > 0 and (is_amount(line.words[cut - 1].text) or line.words[cut - 1].text in _MARKERS):
        cut -= 1
    return _Row(line, line.words[:cut], _merge_marks(line.words[cut:]))


def _merge_marks(words: list[Word]) -> list[Word]:
    """ "(" and ")" set apart from their amount are joined to it; a lone "$" is dropped."""
    out: list[Word] = []
    pending = ""
    pending_x0: float | None = None
    for word in words:
        text = word.text
        if text in {"(", "($", "$(", "（"}:
            pending, pending_x0 = "(", word.x0
            continue
        if text in {")", "）", "%"} and out:
            last = out[-1]
            out[-1] = Word(last.text + (")" if text in {")", "）"} else "%"), last.x0, word.x1, last.top, last.bottom)
            continue
        if text in _MARKERS:
            continue
        text = text.replace("$", "").strip() or text
        if pending:
            text = pending + text if not text.startswith("(") else text
            out.append(Word(text, pending_x0 if pending_x0 is not None else word.x0, word.x1, word.top, word.bottom))
            pending, pending_x0 = "", None
        else:
            out.append(word)
    return out


# ---------------------------------------------------------------- finding statements on a page


def _runs(lines: list[_Line]) -> list[list[_Row]]:
    """Stretches of rows with amounts, with the label-only lines between them that stay left of
    the amounts (section titles, wrapped labels). A wide line (prose, a title) ends a stretch."""
    runs: list[list[_Row]] = []
    current: list[_Row] = []
    pending: list[_Row] = []
    for line in lines:
        row = _split_row(line)
        figures = sum(_is_figure(w.text) for w in row.amounts)
        if len(row.amounts) >= 2 and figures >= 1:
            left = min(w.x0 for w in row.amounts)
            if current and len(pending) <= MAX_BRIDGED_LINES and all(p.line.x1 < left - 2 for p in pending):
                current.extend(pending)
            elif current:
                runs.append(current)
                current = []
            current.append(row)
            pending = []
        elif current:
            pending.append(row)
            if len(pending) > MAX_BRIDGED_LINES:
                runs.append(current)
                current, pending = [], []
    if current:
        runs.append(current)
    return [run for run in runs if sum(len(r.amounts) >= 2 for r in run) >= MIN_AMOUNT_ROWS]


def _columns(rows: list[_Row]) -> list[float]:
    """Right edges of the amount columns: clusters of the amounts' right edges (dashes included,
    a nil is an entry of its column) that enough rows use and that hold at least one figure (a
    cluster of dashes alone is dashes centred in their column, not a column of its own)."""
    edges = sorted((w.x1, _is_figure(w.text)) for row in rows for w in row.amounts)
    clusters: list[list[tuple[float, bool]]] = []
    for edge in edges:
        if clusters and edge[0] - clusters[-1][-1][0] <= COLUMN_EDGE:
            clusters[-1].append(edge)
        else:
            clusters.append([edge])
    amount_rows = sum(bool(row.amounts) for row in rows)
    support = max(2, COLUMN_SUPPORT * amount_rows)
    return [
        max(x for x, figure in c if figure) for c in clusters if len(c) >= support and any(figure for _, figure in c)
    ]


def _column_of(word: Word, rights: list[float]) -> int | None:
    """The amount column of a figure (by its right edge) or of a dash (the column it stands in)."""
    if _is_figure(word.text):
        best = min(range(len(rights)), key=lambda i: abs(rights[i] - word.x1))
        return best if abs(rights[best] - word.x1) <= COLUMN_EDGE + 3 else None
    for index, right in enumerate(rights):
        if word.x1 <= right + 4 and (index == 0 or word.centre > rights[index - 1] + 2):
            return index
    return None


def _header_column(centre: float, rights: list[float]) -> int | None:
    """Headers are set over their column and end at its right edge: a word belongs to the first
    column whose right edge it does not pass."""
    for index, right in enumerate(rights):
        if centre <= right + 4:
            return index
    return len(rights) - 1 if centre <= rights[-1] + 24 else None


def _join(words: list[Word]) -> str:
    """Words of one cell in reading order: a space between Latin words ("receivable, less"), none
    next to CJK or between glyphs set apart one by one ("1 1 2 年" is 112年)."""
    text = ""
    previous: Word | None = None
    for word in words:
        if previous is not None and text:
            cjk = bool(_CJK.match(text[-1])) or bool(_CJK.match(word.text[0]))
            spread_digits = len(previous.text) == 1 and len(word.text) == 1 and (previous.text + word.text).isdigit()
            if not cjk and not spread_digits:
                text += " "
        text += word.text
        previous = word
    return squeeze_cjk_spaces(text)


def _label_separators(rows: list[_Row], amount_left: float) -> list[float]:
    """Whitespace strips through every row's label area: code | label | note columns."""
    spans = sorted((w.x0, w.x1) for row in rows for w in row.label if w.x1 < amount_left)
    separators: list[float] = []
    reach: float | None = None
    for start, end in spans:
        if reach is not None and start - reach >= LABEL_GAP:
            separators.append((reach + start) / 2)
        reach = end if reach is None else max(reach, end)
    return separators


def _label_index(x: float, separators: list[float]) -> int:
    return sum(x > s for s in separators)


def _is_title_line(line: _Line, page_width: float) -> bool:
    """A page title: one tight run of glyphs centred on the page (company, statement, period)."""
    words = line.words
    tight = all(b.x0 - a.x1 <= 1.2 * max(a.height, 1.0) for a, b in pairwise(words))
    return tight and abs((line.x0 + line.x1) / 2 - page_width / 2) <= 0.04 * page_width


def _is_prose_line(line: _Line, header_left: float, first_right: float) -> bool:
    """A sentence above the table: one run of closely set words from the labels' side across the
    first amount column ("the six months ending March 31, 2022, is as follows:")."""
    start = 0
    for index in range(1, len(line.words) + 1):
        if index < len(line.words) and line.words[index].x0 - line.words[index - 1].x1 <= line.words[index].height:
            continue
        run = line.words[start:index]
        if run[0].x0 < header_left - 2 and run[-1].x1 > first_right + 4 and len(run) >= 3:
            return True
        start = index
    return False


def _header_lines(
    lines: list[_Line], first: int, header_left: float, rights: list[float], page_width: float
) -> list[_Line]:
    """Lines just above the statement's first row with text over the amounts, nearest first."""
    found: list[_Line] = []
    below = lines[first]
    for line in reversed(lines[max(0, first - MAX_HEADER_LINES) : first]):
        words = [w for w in line.words if not _UNIT.match(w.text)]
        if not words or _is_title_line(line, page_width) or _is_prose_line(line, header_left, rights[0]):
            break
        row = _split_row(line)
        if sum(_is_figure(w.text) for w in row.amounts) >= 2 and not _is_date_row(row):
            break  # the last row of a table above, not a header
        if below.top - line.bottom > HEADER_GAP * max(line.glyph, 1.0) + 2:
            break
        if not any(w.centre >= header_left for w in words):
            break
        found.append(_Line(words))
        below = line
    return list(reversed(found))


def _spanning(
    line: _Line, rules: list[Rule], next_top: float, rights: list[float], header_left: float
) -> list[tuple[list[Word], list[int]]]:
    """Phrases of a header line that head several columns: the words over an underline that spans
    two or more columns, Latin words set as one phrase across a column boundary ("Three Months
    Ended" over two periods), and ideographs spread far apart across columns."""
    phrases: list[tuple[list[Word], list[int]]] = []
    taken: set[int] = set()
    for rule in rules:
        # A rule reaching into the labels' side separates the header from the body; it heads nothing.
        if not line.bottom - 1 <= rule.y <= next_top + 1 or rule.x0 < header_left - 2:
            continue
        covered = [i for i, right in enumerate(rights) if rule.x0 - 2 <= right <= rule.x1 + 6]
        members = [k for k, w in enumerate(line.words) if k not in taken and rule.x0 - 3 <= w.centre <= rule.x1 + 3]
        at_edges = sum(any(abs(line.words[k].x1 - right) <= 3 for right in rights) for k in members)
        if len(covered) >= 2 and members and at_edges <= 1:
            phrases.append(([line.words[k] for k in members], covered))
            taken.update(members)
    words = line.words
    gaps = [b.x0 - a.x1 for a, b in pairwise(words)]
    start = 0
    for end in range(1, len(words) + 1):
        if end < len(words) and gaps[end - 1] <= LATIN_WORD_GAP * words[end].height:
            continue
        group = [k for k in range(start, end) if k not in taken]
        start = end
        if len(group) < 2 or not all(words[k].text.isascii() for k in group):
            continue
        x0, x1 = words[group[0]].x0, words[group[-1]].x1
        covered = _columns_under(x0, x1, rights)
        if len(covered) >= 2 and _centred_phrase(x0, x1, covered, rights, [words[k] for k in group]):
            phrases.append(([words[k] for k in group], covered))
            taken.update(group)

    def spread(k: int) -> bool:
        """A lone ideograph far from both its neighbours: one character of a phrase set wide."""
        far = SPREAD_GAP * max(words[k].height, 1.0)
        return (
            k not in taken
            and len(words[k].text) == 1
            and bool(_CJK.match(words[k].text))
            and (k == 0 or gaps[k - 1] > far)
            and (k == len(words) - 1 or gaps[k] > far)
        )

    k = 0
    while k < len(words):
        if not spread(k):
            k += 1
            continue
        end = k
        while end + 1 < len(words) and spread(end + 1):
            end += 1
        first, last = words[k], words[end]
        covered = [
            i
            for i, right in enumerate(rights)
            if right + 4 >= first.centre and (i == 0 or rights[i - 1] + 4 < last.centre)
        ]
        if end > k and len(covered) >= 2:
            phrases.append((words[k : end + 1], covered))
            taken.update(range(k, end + 1))
        k = end + 1
    return phrases


def _centred_phrase(x0: float, x1: float, covered: list[int], rights: list[float], words: list[Word]) -> bool:
    """A spanning heading is centred over its columns, and at most one of its words ends at a
    column's right edge; several column names set close together ("EBITDA EBIT Net Income") end
    at theirs, one each."""
    left = rights[covered[0] - 1] + 4 if covered[0] else rights[covered[0]] - (x1 - x0)
    span = rights[covered[-1]] - left
    off_centre = abs((x0 + x1) / 2 - (left + rights[covered[-1]]) / 2)
    at_edges = sum(any(abs(w.x1 - right) <= 3 for right in rights) for w in words)
    return off_centre <= 0.25 * span and at_edges <= 1


def _columns_under(x0: float, x1: float, rights: list[float]) -> list[int]:
    """Columns a phrase stands over: at least half of the narrower of the two (phrase, column)."""
    covered = []
    for index, right in enumerate(rights):
        left = rights[index - 1] + 4 if index else right - (rights[1] - rights[0] if len(rights) > 1 else 60)
        overlap = min(x1, right + 4) - max(x0, left)
        if overlap > 0 and overlap >= 0.5 * min(x1 - x0, right + 4 - left):
            covered.append(index)
    return covered


def _header_cells(
    header: list[_Line],
    body_top: float,
    rules: list[Rule],
    rights: list[float],
    separators: list[float],
    header_left: float,
) -> list[str]:
    n_labels = len(separators) + 1
    parts: list[list[tuple[str, bool]]] = [[] for _ in range(n_labels + len(rights))]  # (text, spans columns)
    for index, line in enumerate(header):
        next_top = header[index + 1].top if index + 1 < len(header) else body_top
        phrases = _spanning(line, rules, next_top, rights, header_left)
        used = {id(w) for words, _ in phrases for w in words}
        own: dict[int, list[Word]] = {}
        for word in line.words:
            if id(word) in used:
                continue
            if word.centre < header_left:
                column = _label_index(word.centre, separators)
            else:
                found = _header_column(word.centre, rights)
                if found is None:
                    continue
                column = n_labels + found
            own.setdefault(column, []).append(word)
        for words, covered in phrases:
            parts[n_labels + covered[0]].append((_join(words), True))
        for column, words in own.items():
            parts[column].append((_join(words), False))
    return [_header_text(p) for p in parts]


def _header_text(parts: list[tuple[str, bool]]) -> str:
    """A column's header, top down: each spanning phrase that starts at this column is a level of its
    own ("歸屬於母公司業主之權益 / 保留盈餘 / 法定盈餘公積"); the column's own name, wrapped over several
    lines, is one level."""
    levels: list[str] = []
    own: list[str] = []
    for text, spans in parts:
        if spans:
            levels.append(text)
        else:
            own.append(text)
    if own:
        levels.append(_join_levels(own))
    return " / ".join(levels)


def _join_levels(parts: list[str]) -> str:
    """Lines of one wrapped text: no space where CJK meets CJK."""
    out = ""
    for part in parts:
        if out and (_CJK.match(out[-1]) and _CJK.match(part[0])):
            out += part
        elif out:
            out += " " + part
        else:
            out = part
    return out


def _body_rows(
    rows: list[_Row], rights: list[float], separators: list[float], amount_left: float
) -> list[tuple[list[str], list[str], float]]:
    """(label cells, amount cells, label x0) per body line."""
    n_labels = len(separators) + 1
    out = []
    for row in rows:
        labels: list[list[Word]] = [[] for _ in range(n_labels)]
        amounts = [""] * len(rights)
        extra: list[Word] = []
        for word in row.amounts:
            column = _column_of(word, rights)
            if column is None or amounts[column]:
                extra.append(word)
            else:
                amounts[column] = word.text
        for word in [*row.label, *[w for w in extra if w.x1 < amount_left]]:
            labels[_label_index(word.centre, separators)].append(word)
        for word in extra:  # figures between columns: kept, in the column left of them
            if word.x1 >= amount_left:
                column = max(0, sum(word.x1 > r + COLUMN_EDGE for r in rights) - 1)
                amounts[column] = (amounts[column] + " " + word.text).strip()
        x0 = min((w.x0 for w in row.label), default=row.line.x0)
        out.append(([_join(sorted(ws, key=lambda w: w.x0)) for ws in labels], amounts, x0))
    return out


def _joined_continuations(body: list[tuple[list[str], list[str], float]], code_column: bool) -> list[list[str]]:
    """A label wrapped over two lines, with its amounts on the last one, is one row: the first line
    has no amounts and either a code of its own while the next has none, or the next is indented
    under it and the line after that is not (a section title's children stay indented), or the next
    goes on in lower case ("Net income attributable to non-controlling" / "interests"), which no
    label of its own does."""
    rows: list[list[str]] = []
    index = 0
    while index < len(body):
        labels, amounts, x0 = body[index]
        if not any(amounts) and index + 1 < len(body):
            next_labels, next_amounts, next_x0 = body[index + 1]
            has_code = code_column and bool(labels[0])
            next_has_code = code_column and bool(next_labels[0])
            after_x0 = body[index + 2][2] if index + 2 < len(body) else None
            ends_section = labels[-1].endswith((":", "：")) if labels[-1] else False
            wrapped = has_code and not next_has_code
            indented = (
                not code_column
                and not ends_section
                and next_x0 > x0 + 2
                and (after_x0 is None or after_x0 < next_x0 - 2)
            )
            goes_on = not ends_section and _continues_in_lower_case(next_labels)
            if any(next_amounts) and (wrapped or indented or goes_on):
                merged = [
                    _join_levels([a, b] if a and b else [a or b]) if a or b else ""
                    for a, b in zip(labels, next_labels, strict=True)
                ]
                rows.append(merged + next_amounts)
                index += 2
                continue
        if not any(labels) and any(amounts) and rows and not any(rows[-1][len(labels) :]):
            rows[-1] = rows[-1][: len(labels)] + amounts  # amounts set between a label's two lines
        else:
            rows.append(labels + amounts)
        index += 1
    return rows


def _continues_in_lower_case(labels: list[str]) -> bool:
    text = next((label for label in labels if label), "")
    return bool(text) and text[0].islower()


def statement_grids(layout: LTPage) -> list[TextTable]:
    """Every statement on the page rebuilt from word positions, as tables with one header row and
    strategy "grid" (candidates: the page reader keeps one only where ``grid_wins``)."""
    lines = _visual_lines(words_of_layout(layout))
    rules = rules_of_layout(layout)
    index_of = {id(line): i for i, line in enumerate(lines)}
    grids = []
    for run in _runs(lines):
        rights = _columns(run)
        if len(rights) < MIN_COLUMNS:
            continue
        amount_left = min(w.x0 for row in run for w in row.amounts if _column_of(w, rights) is not None) - 1
        # Headers are wider than the amounts under them: what stands right of every label is header.
        label_right = max((w.x1 for r in run for w in r.label if w.x1 < amount_left), default=amount_left)
        header_left = min(amount_left, label_right + 3)
        while len(run) > MIN_AMOUNT_ROWS and _is_date_row(run[0]):  # "2023 2022" heads the columns
            run = run[1:]
        first = index_of[id(run[0].line)]
        leading: list[_Row] = []
        while first > 0 and lines[first - 1].x1 < amount_left - 2 and len(leading) < 3:
            candidate = lines[first - 1]
            if _is_title_line(candidate, layout.width) or any(_UNIT.match(w.text) for w in candidate.words):
                break
            leading.insert(0, _Row(candidate, candidate.words, []))
            first -= 1
        header = _header_lines(lines, first, header_left, rights, layout.width)
        if not header:
            leading = []  # section lines with no header above are as likely a caption: leave them
            first = index_of[id(run[0].line)]
        body_rows = [*leading, *run]
        separators = _label_separators(body_rows, amount_left)
        code_column = _is_code_column(body_rows, separators)
        body = _body_rows(body_rows, rights, separators, amount_left)
        rows = _joined_continuations(body, code_column)
        head = (
            _header_cells(header, body_rows[0].line.top, rules, rights, separators, header_left)
            if header
            else [""] * len(rows[0])
        )
        all_lines = [*header, *(r.line for r in body_rows)]
        bbox = (
            min(line.x0 for line in all_lines),
            min(line.top for line in all_lines),
            max(line.x1 for line in all_lines),
            max(line.bottom for line in all_lines),
        )
        table_rows = clean_rows([head, *rows])
        if len(table_rows) >= MIN_AMOUNT_ROWS and len(table_rows[0]) >= MIN_COLUMNS + 1:
            grids.append(TextTable(table_rows, 1, bbox, "grid"))
    return grids


def _is_date_row(row: _Row) -> bool:
    """Figures that are all years or days of a month ("2023", "December 31, 2022"): a header row."""
    figures = [w.text for w in row.amounts if _is_figure(w.text)]
    return bool(figures) and all(_DATE_PART.match(text) for text in figures)


def _is_code_column(rows: list[_Row], separators: list[float]) -> bool:
    """The first label column holds account codes ("1100", "A1", "11XX") on most rows with amounts."""
    if not separators:
        return False
    firsts = [[w for w in row.label if w.centre < separators[0]] for row in rows if row.amounts]
    codes = sum(len(words) == 1 and bool(_CODE.match(words[0].text)) for words in firsts)
    return codes >= 0.5 * max(len(firsts), 1)


# ---------------------------------------------------------------- against the other finders


def _one_amount(cell: str) -> bool:
    return _is_figure(cell) and not re.search(r"[\d)]\s+[\d(]", cell)


def single_amount_cells(rows: list[list[str]]) -> int:
    """Cells holding exactly one amount, in rows that also name what it is (a cell with words).
    A table that reads a statement right has many; one that runs several columns into a cell
    ("$12,544,333 $ 381,843 …"), leaves the labels out, or sets them a row away from their amounts
    has few."""
    return sum(
        sum(_one_amount(cell) for cell in row if cell)
        for row in rows
        if any(cell and not is_amount(cell) and any(ch.isalpha() for ch in cell) for cell in row)
    )


def grid_wins(grid_rows: list[list[str]], others: list[list[list[str]]]) -> bool:
    """Keep the rebuilt grid over the tables it overlaps where it reads clearly more labelled amounts
    one to a cell, or as many where the finders broke the statement into pieces (pieces cut at the
    wrong line are how codes and labels drift a row apart: the count alone does not see it). On
    a tie with a single table the finder's table stays (its ruled cells are exact)."""
    ours = single_amount_cells(grid_rows)
    theirs = sum(single_amount_cells(rows) for rows in others)
    return ours > 1.15 * theirs + 2 or (len(others) >= 2 and ours >= theirs)
