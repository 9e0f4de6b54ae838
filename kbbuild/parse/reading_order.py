"""Reading order of boxes on a page by recursive XY-cut, with column bands kept together.

A set of boxes is cut at vertical white gaps into columns (read left to right) when it can be;
otherwise into horizontal bands (read top to bottom). Plain XY-cut goes wrong on the most common
multi-column page: when the headings of two columns line up, they form a band of their own and are
read before either column. So consecutive bands that split into columns at a shared gutter are
merged back into one region, which is then read column by column. A full-width title, table or
footer shares no gutter, so it stays a band of its own, read before or after the columns.
Works on any boxes, text-layer blocks and layout-model regions alike (top-left origin).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from kbbuild.records import BBox


def _runs(intervals: list[tuple[float, float, int]], min_gap: float) -> list[list[int]]:
    """Group intervals (start, end, index) into runs separated by gaps of at least ``min_gap``."""
    groups: list[list[int]] = []
    reach = float("-inf")
    for start, end, index in sorted(intervals):
        if not groups or start - reach >= min_gap:
            groups.append([index])
        else:
            groups[-1].append(index)
        reach = max(reach, end)
    return groups


def xy_cut_order(boxes: Sequence[BBox], min_gap_x: float = 8.0, min_gap_y: float = 2.0) -> list[int]:
    """Indexes of ``boxes`` in reading order."""

    def columns(indexes: list[int]) -> list[list[int]]:
        return _runs([(boxes[i].x0, boxes[i].x1, i) for i in indexes], min_gap_x)

    def bands(indexes: list[int]) -> list[list[int]]:
        return _runs([(boxes[i].y0, boxes[i].y1, i) for i in indexes], min_gap_y)

    def gutters(indexes: list[int]) -> list[tuple[float, float]]:
        cols = columns(indexes)
        return [(max(boxes[i].x1 for i in left), min(boxes[i].x0 for i in right)) for left, right in pairwise(cols)]

    def share_gutter(a: list[int], b: list[int]) -> bool:
        return any(min(ga[1], gb[1]) - max(ga[0], gb[0]) >= min_gap_x for ga in gutters(a) for gb in gutters(b))

    def by_position(indexes: list[int]) -> list[int]:
        return sorted(indexes, key=lambda i: (boxes[i].y0, boxes[i].x0))

    def order(indexes: list[int], depth: int) -> list[int]:
        if len(indexes) <= 1 or depth > 50:
            return by_position(indexes)
        cols = columns(indexes)
        if len(cols) > 1:
            return [i for col in cols for i in order(col, depth + 1)]
        merged: list[list[int]] = []
        for band in bands(indexes):
            if merged and share_gutter(merged[-1], band):
                merged[-1] = merged[-1] + band
            else:
                merged.append(band)
        if len(merged) == 1:
            return by_position(indexes)  # neither columns nor bands: plain top-down order
        return [i for group in merged for i in order(group, depth + 1)]

    return order(list(range(len(boxes))), 0)
