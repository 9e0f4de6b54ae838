"""Paragraphs set with wide line spacing, put back together.

The PDF layout analysis groups lines into blocks by their vertical gap relative to the line height;
a filing set double-spaced (common in Taiwanese financial notes: 11 pt text on a 23 pt pitch) comes
out one block per line. Every line then ends a paragraph, and a word that wraps is cut in two for
good: "…通過與奇" / "力新電子…" is indexed as 奇 and 力新, never as 奇力新. So consecutive one-page
paragraphs are joined back when they read as one: the earlier line runs to the right edge of the
text, the later one starts at the left edge (not indented, not a list item), and the gap between
them is no more than ``MAX_GAP`` line heights. The joined lines keep their line breaks; the line
joiner after this step decides how they meet (no space between CJK characters, hyphens mended).
"""

from __future__ import annotations

from collections import Counter

from kbbuild.records import BBox, Document, Element, ElementKind

MAX_GAP = 1.6  # the gap between the lines, in line heights
RIGHT_SLACK = 2.5  # a full line ends within this many line heights of the text's right edge
LEFT_SLACK = 0.5  # ...and the next starts within this many line heights of its left edge


def _line_height(element: Element) -> float:
    box = element.bbox
    assert box is not None
    return (box.y1 - box.y0) / max(1, element.text.count("\n") + 1)


def _continues(before: Element, after: Element, left: float, right: float) -> bool:
    from kbbuild.chunk.structure import is_list_item

    a, b = before.bbox, after.bbox
    if a is None or b is None or before.page != after.page:
        return False
    height = min(_line_height(before), _line_height(after))
    if height <= 0:
        return False
    gap = b.y0 - a.y1
    return (
        0 <= gap <= MAX_GAP * height
        and a.x1 >= right - RIGHT_SLACK * height
        and b.x0 <= left + LEFT_SLACK * height
        and not is_list_item(after)
    )


def _edges(elements: list[Element]) -> dict[int, tuple[float, float]]:
    """Per page: the left edge where most paragraph lines start (outdented numbering and indented
    first lines are fewer) and the right edge most full lines reach (the 90th percentile of their
    ends, so that one wide line does not move it)."""
    starts: dict[int, Counter[int]] = {}
    ends: dict[int, list[float]] = {}
    for element in elements:
        if element.kind is ElementKind.PARAGRAPH and element.bbox is not None and element.page is not None:
            starts.setdefault(element.page, Counter())[round(element.bbox.x0 / 2)] += 1
            ends.setdefault(element.page, []).append(element.bbox.x1)
    edges: dict[int, tuple[float, float]] = {}
    for page, counter in starts.items():
        right = sorted(ends[page])
        edges[page] = (counter.most_common(1)[0][0] * 2.0, right[min(len(right) - 1, int(0.9 * len(right)))])
    return edges


def rejoin_paragraphs(document: Document) -> tuple[Document, int]:
    """The document with wide-spaced paragraphs joined back, and how many joins were made."""
    elements = list(document.elements)
    edges = _edges(elements)
    out: list[Element] = []
    joins = 0
    for element in elements:
        previous = out[-1] if out else None
        if (
            previous is not None
            and previous.kind is ElementKind.PARAGRAPH
            and element.kind is ElementKind.PARAGRAPH
            and element.page in edges
            and _continues(previous, element, *edges[element.page])
        ):
            a, b = previous.bbox, element.bbox
            assert a is not None and b is not None
            box = BBox(x0=min(a.x0, b.x0), y0=a.y0, x1=max(a.x1, b.x1), y1=b.y1)
            out[-1] = previous.model_copy(update={"text": previous.text + "\n" + element.text, "bbox": box})
            joins += 1
            continue
        out.append(element)
    if not joins:
        return document, 0
    return document.model_copy(update={"elements": tuple(out)}), joins
