"""Reading order of boxes on a page by recursive XY-cut.

A page is cut at the widest horizontal white band into stacked parts (read top to bottom), each
part at vertical white gaps into columns (read left to right), recursively. Two columns are thus
read one after the other instead of line by line across the gutter, while a full-width title or
table above or below them still comes first or last. Works on any boxes: text-layer blocks and
layout-model regions alike (top-left origin).
"""

from __future__ import annotations

from collections.abc import Sequence

from kbbuild.records import BBox


def _gaps(intervals: list[tuple[float, float, int]], min_gap: float) -> list[list[int]]:
    """Group intervals (start, end, index) into runs separated by gaps of at least ``min_gap``."""
    intervals = sorted(intervals)
    groups: list[list[int]] = []
    reach = float("-inf")
    for start, end, index in intervals:
        if not groups or start - reach >= min_gap:
            groups.append([index])
        else:
            groups[-1].append(index)
        reach = max(reach, end)
    return groups


def xy_cut_order(boxes: Sequence[BBox], min_gap_x: float = 8.0, min_gap_y: float = 2.0) -> list[int]:
    """Indexes of ``boxes`` in reading order."""

    def order(indexes: list[int], horizontal_first: bool, depth: int) -> list[int]:
        if len(indexes) <= 1 or depth > 40:
            return sorted(indexes, key=lambda i: (boxes[i].y0, boxes[i].x0))
        if horizontal_first:
            groups = _gaps([(boxes[i].y0, boxes[i].y1, i) for i in indexes], min_gap_y)
        else:
            groups = _gaps([(boxes[i].x0, boxes[i].x1, i) for i in indexes], min_gap_x)
        if len(groups) == 1:
            if depth and _stuck(indexes, horizontal_first, boxes, min_gap_x, min_gap_y):
                return sorted(indexes, key=lambda i: (boxes[i].y0, boxes[i].x0))
            return order(indexes, not horizontal_first, depth + 1)
        return [i for group in groups for i in order(group, not horizontal_first, depth + 1)]

    return order(list(range(len(boxes))), True, 0)


def _stuck(indexes: list[int], horizontal: bool, boxes: Sequence[BBox], gx: float, gy: float) -> bool:
    """Neither direction splits this set: fall back to top-to-bottom, left-to-right."""
    other = (
        _gaps([(boxes[i].x0, boxes[i].x1, i) for i in indexes], gx)
        if horizontal
        else _gaps([(boxes[i].y0, boxes[i].y1, i) for i in indexes], gy)
    )
    return len(other) == 1
