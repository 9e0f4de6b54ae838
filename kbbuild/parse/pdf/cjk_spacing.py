"""Spaces between Chinese (Japanese) characters that the page does not justify, taken out.

Chinese puts no spaces between words, yet the text layer of many filings reads `瑞 昱 半 導 體`:
the PDF sets its characters with letter-spacing (or spreads a heading across a cell), and pdfminer
inserts a space wherever two glyphs are further apart than a tenth of their size. Measured on the
zh-hant-filings sample, spaced pairs sit 0.1-0.2 em apart and unspaced ones -0.5-0.1 em; a heading
spread across its cell puts 1-2 em between every character. A fixed threshold cannot tell such a
heading from two table columns 1.2 em apart, but the neighbourhood can: a space is real only where
the gap is clearly wider (``JUSTIFIED_EM`` more) than the spacing of the characters on one side of it.

Full-text search splits on spaces before jieba cuts words, so a spaced company name was indexed as
single characters. Spaces between CJK and Latin text, and between Latin words, are never touched.
A space typed between two CJK characters and narrower than half a character goes too: in justified
filings the PDF itself draws such spaces 0.2-0.5 em wide inside words (`合併公司  與關係人`), so the
space character is no evidence, and the words are cut by jieba anyway. The exception is the space
after an article or chapter number (`第三章 住宿标准`, `第七条 报销款项`), which is the convention.
"""

from __future__ import annotations

import re
import statistics

from pdfminer.layout import LTAnno, LTChar, LTTextLine, LTTextLineHorizontal

JUSTIFIED_EM = 0.5  # a real gap: this much (in glyph sizes) wider than the spacing beside it
_SPACES = frozenset(" \u3000\u00a0")
# Ideographs, CJK punctuation (、。「」 but not the ideographic space) and full-width forms (，：（）).
_CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3001-\u303f\uff01-\uff60]"
_CJK_CHAR = re.compile(_CJK)
_ARTICLE_NUMBER = re.compile(r"第[〇零一二三四五六七八九十百千两\d]{1,6}[章节節条條款篇部编編]$")
_SPACE_BETWEEN_CJK = re.compile(f"(?<={_CJK})[ \u3000\u00a0]+(?={_CJK})")


def _is_cjk(item: object) -> bool:
    return isinstance(item, LTChar) and bool(_CJK_CHAR.fullmatch(item.get_text()))


def _is_space(item: object) -> bool:
    return isinstance(item, (LTChar, LTAnno)) and item.get_text() in _SPACES


def _usual_gap(pairs: list[tuple[int, int, float]], number: int) -> float:
    """The spacing of the text next to a gap: the smaller of the gaps of the CJK pairs that share a
    glyph with it. A letter-spaced word has its own wide spacing on both sides, so the gaps inside
    it are not "wider than usual"; a real gap is wider than at least one of the words it separates
    (``inf`` without neighbours: a lone pair such as `差 額` has nothing to show a gap is real)."""
    left, right, _ = pairs[number]
    neighbours = []
    if number > 0 and pairs[number - 1][1] == left:
        neighbours.append(pairs[number - 1][2])
    if number + 1 < len(pairs) and pairs[number + 1][0] == right:
        neighbours.append(pairs[number + 1][2])
    return min(neighbours, default=float("inf"))


def line_text(line: LTTextLine) -> str:
    """The line's text as pdfminer gives it, less the unjustified spaces between CJK characters."""
    text = line.get_text()
    if not isinstance(line, LTTextLineHorizontal) or not _SPACE_BETWEEN_CJK.search(text):
        return text  # most lines: nothing to decide
    items = list(line)
    pairs: list[tuple[int, int, float]] = []  # (index of left glyph, index of right glyph, gap in sizes)
    previous: int | None = None
    for index, item in enumerate(items):
        if _is_space(item):
            continue
        if previous is not None and _is_cjk(items[previous]) and _is_cjk(item):
            left, right = items[previous], item
            size = max(left.size, right.size, 1.0)
            pairs.append((previous, index, (right.x0 - left.x1) / size))
        previous = index if isinstance(item, LTChar) else None
    if not pairs:
        return text
    line_usual = statistics.median(gap for _, _, gap in pairs)
    dropped: set[int] = set()
    for number, (left, right, gap) in enumerate(pairs):
        if right - left == 1:
            continue  # nothing between the two glyphs
        if gap >= max(line_usual, _usual_gap(pairs, number)) + JUSTIFIED_EM:
            continue  # clearly wider than the spacing of the text on either side: a real gap
        if _ARTICLE_NUMBER.search("".join(item.get_text() for item in items[max(left - 8, 0) : left + 1])):
            continue  # 第三章 住宿标准: the space after an article number is the convention, not spacing
        dropped.update(range(left + 1, right))
    return "".join(item.get_text() for index, item in enumerate(items) if index not in dropped)


def squeeze_cjk_spaces(text: str) -> str:
    """Spaces between CJK characters removed, for text that is one unit (a table cell) and whose glyph
    positions are not at hand: inside one cell, such a space never separates two things."""
    return _SPACE_BETWEEN_CJK.sub("", text)
