"""Turn a rendered page image into elements: layout regions, OCR lines, tables, reading order.

The page is read once by the OCR engine and once by the layout model; each OCR line is then given
to the region that holds most of it. A region's kind becomes the element kind (title -> heading,
header/footer -> page furniture, table -> a table recognised by the table model from the region's
crop), lines outside every region are grouped into paragraphs, and the elements are put in reading
order by XY-cut. Coordinates are converted from pixels to PDF points (top-left origin).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

import numpy as np

from kbbuild.config import OcrSettings
from kbbuild.parse.reading_order import xy_cut_order
from kbbuild.providers import LayoutModel, OcrEngine, TableModel
from kbbuild.records import BBox, Element, ElementKind, ExtractionMethod, LayoutRegion, OcrLine
from kbbuild.text.spacing import fix_spacing
from kbbuild.text.tables import grid_from_html, to_markdown

_PAGE_NUMBER = re.compile(r"^[\s\-–—·•]*(?:page\s*)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?[\s\-–—·•]*$", re.I)

_REGION_KINDS = {
    "title": ElementKind.HEADING,
    "text": ElementKind.PARAGRAPH,
    "reference": ElementKind.PARAGRAPH,
    "caption": ElementKind.CAPTION,
    "header": ElementKind.PAGE_HEADER,
    "footer": ElementKind.PAGE_FOOTER,
    "formula": ElementKind.FORMULA,
    "table": ElementKind.TABLE,
    "figure": ElementKind.FIGURE,
}


@dataclass(frozen=True)
class OcrStack:
    """The models one OCR page needs; layout and table models are optional."""

    engine: OcrEngine
    layout: LayoutModel | None
    table: TableModel | None

    def describe(self) -> str:
        parts = [self.engine.name, self.layout.name if self.layout else None, self.table.name if self.table else None]
        return "+".join(p for p in parts if p)


def _area(box: BBox) -> float:
    return max(box.width, 0.0) * max(box.height, 0.0)


def _overlap(a: BBox, b: BBox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _union(boxes: list[BBox]) -> BBox:
    return BBox(
        x0=min(b.x0 for b in boxes),
        y0=min(b.y0 for b in boxes),
        x1=max(b.x1 for b in boxes),
        y1=max(b.y1 for b in boxes),
    )


def _scale(box: BBox, factor: float) -> BBox:
    return BBox(x0=box.x0 * factor, y0=box.y0 * factor, x1=box.x1 * factor, y1=box.y1 * factor)


def _drop_nested(regions: list[LayoutRegion]) -> list[LayoutRegion]:
    """Layout models sometimes report a region twice (text inside text); keep the outer one."""
    kept: list[LayoutRegion] = []
    for region in sorted(regions, key=lambda r: -_area(r.bbox)):
        if any(_overlap(region.bbox, k.bbox) > 0.8 * _area(region.bbox) and k.kind == region.kind for k in kept):
            continue
        kept.append(region)
    return kept


def _assign(lines: list[OcrLine], regions: list[LayoutRegion]) -> tuple[dict[int, list[OcrLine]], list[OcrLine]]:
    """Each line goes to the region that covers most of it (at least half), else stays loose."""
    owned: dict[int, list[OcrLine]] = {i: [] for i in range(len(regions))}
    loose: list[OcrLine] = []
    for line in lines:
        best, best_share = None, 0.5
        line_area = max(_area(line.bbox), 1.0)
        for index, region in enumerate(regions):
            share = _overlap(line.bbox, region.bbox) / line_area
            if share > best_share:
                best, best_share = index, share
        if best is None:
            loose.append(line)
        else:
            owned[best].append(line)
    return owned, loose


def _group_loose(lines: list[OcrLine]) -> list[list[OcrLine]]:
    """Lines outside any region: consecutive lines that touch vertically and overlap horizontally
    form a paragraph."""
    groups: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.bbox.y0, ln.bbox.x0)):
        for group in groups:
            last = group[-1].bbox
            gap = line.bbox.y0 - last.y1
            overlaps = min(line.bbox.x1, last.x1) - max(line.bbox.x0, last.x0) > 0
            if overlaps and -0.5 * last.height < gap < 0.8 * last.height:
                group.append(line)
                break
        else:
            groups.append([line])
    return groups


def _text_of(lines: list[OcrLine]) -> str:
    """Lines top to bottom; pieces of one visual line (OCR may cut a line in two) left to right."""
    rows: list[tuple[float, list[OcrLine]]] = []
    for line in sorted(lines, key=lambda ln: (ln.bbox.y0 + ln.bbox.y1) / 2):
        center = (line.bbox.y0 + line.bbox.y1) / 2
        if rows and abs(center - rows[-1][0]) < 0.5 * line.bbox.height:
            rows[-1][1].append(line)
        else:
            rows.append((center, [line]))
    return "\n".join(" ".join(ln.text for ln in sorted(row, key=lambda ln: ln.bbox.x0)) for _, row in rows)


class OcrPageReader:
    """Reads page images with one OcrStack; holds no per-page state."""

    def __init__(self, stack: OcrStack, settings: OcrSettings, parser_name: str) -> None:
        self.stack = stack
        self.settings = settings
        self.parser_name = parser_name

    def read(self, image: np.ndarray, page: int, dpi: int) -> list[Element]:
        """Elements of a page image rendered at ``dpi``, in reading order."""
        lines = [
            line.model_copy(update={"text": self._clean_text(line.text)})
            for line in self.stack.engine.recognize(image)
            if line.confidence >= self.settings.min_confidence and line.text.strip()
        ]
        regions = _drop_nested(self.stack.layout.detect(image)) if self.stack.layout else []
        page_area = float(image.shape[0] * image.shape[1])
        # A "figure" covering much of a scanned page is the page itself (handwriting, a photo of a
        # notice): layout models say figure, but its lines are the page's text.
        regions = [r for r in regions if not (r.kind == "figure" and _area(r.bbox) > 0.4 * page_area)]
        owned, loose = _assign(lines, regions)
        heights = [ln.bbox.height for ln in lines] or [1.0]
        body_height = statistics.median(heights)
        to_points = 72.0 / dpi
        elements: list[Element] = []
        for index, region in enumerate(regions):
            element = self._region_element(image, region, owned[index], page, body_height, to_points)
            if element is not None:
                elements.append(element)
        for group in _group_loose(loose):
            elements.append(self._element(ElementKind.PARAGRAPH, group, page, to_points))
        order = xy_cut_order([e.bbox for e in elements])  # type: ignore[misc]
        return [elements[i] for i in order]

    def read_region_text(self, image: np.ndarray, box: BBox, dpi: int) -> tuple[str, float | None]:
        """OCR text inside one area of a rendered page (``box`` in points), e.g. a chart's labels."""
        scale = dpi / 72.0
        x0, y0 = max(int(box.x0 * scale), 0), max(int(box.y0 * scale), 0)
        x1, y1 = min(int(box.x1 * scale) + 1, image.shape[1]), min(int(box.y1 * scale) + 1, image.shape[0])
        if x1 - x0 < 8 or y1 - y0 < 8:
            return "", None
        lines = [
            line.model_copy(update={"text": self._clean_text(line.text)})
            for line in self.stack.engine.recognize(image[y0:y1, x0:x1])
            if line.confidence >= self.settings.min_confidence and line.text.strip()
        ]
        if not lines:
            return "", None
        return _text_of(lines), statistics.fmean(line.confidence for line in lines)

    def _clean_text(self, text: str) -> str:
        text = " ".join(text.split())
        return fix_spacing(text) if self.settings.fix_english_spacing else text

    def _element(
        self,
        kind: ElementKind,
        lines: list[OcrLine],
        page: int,
        to_points: float,
        box: BBox | None = None,
        **extra,
    ) -> Element:
        box = box or _union([ln.bbox for ln in lines])
        confidence = statistics.fmean(ln.confidence for ln in lines) if lines else None
        text = extra.pop("text", None)
        return Element(
            kind=kind,
            text=_text_of(lines) if text is None else text,
            page=page,
            bbox=_scale(box, to_points),
            parser=self.parser_name,
            method=extra.pop("method", ExtractionMethod.OCR),
            confidence=round(confidence, 4) if confidence is not None else None,
            meta={"ocr": self.stack.describe()},
            **extra,
        )

    def _region_element(
        self,
        image: np.ndarray,
        region: LayoutRegion,
        lines: list[OcrLine],
        page: int,
        body_height: float,
        to_points: float,
    ) -> Element | None:
        kind = _REGION_KINDS.get(region.kind, ElementKind.PARAGRAPH)
        if kind is ElementKind.FIGURE:  # the page was OCRed anyway: keep what was read inside it
            return self._element(kind, lines, page, to_points, box=region.bbox, text=_text_of(lines))
        if not lines:
            return None
        if kind is ElementKind.TABLE:
            return self._table(image, region, lines, page, to_points)
        text = _text_of(lines)
        if (kind is ElementKind.PAGE_FOOTER or kind is ElementKind.PAGE_HEADER) and _PAGE_NUMBER.match(text):
            kind = ElementKind.PAGE_NUMBER
        level = None
        if kind is ElementKind.HEADING:
            line_height = statistics.median(ln.bbox.height for ln in lines)
            level = 1 if line_height >= 1.3 * body_height else 2
        return self._element(
            kind, lines, page, to_points, box=_union([region.bbox, *(ln.bbox for ln in lines)]), level=level
        )

    def _table(self, image: np.ndarray, region: LayoutRegion, lines: list[OcrLine], page: int, to_points: float):
        box = _union([region.bbox, *(ln.bbox for ln in lines)])
        if self.stack.table is None:
            return self._element(ElementKind.TABLE, lines, page, to_points, box=box)
        x0, y0 = max(int(box.x0), 0), max(int(box.y0), 0)
        x1, y1 = min(int(box.x1) + 1, image.shape[1]), min(int(box.y1) + 1, image.shape[0])
        crop = image[y0:y1, x0:x1]
        shifted = [
            ln.model_copy(
                update={"bbox": BBox(x0=ln.bbox.x0 - x0, y0=ln.bbox.y0 - y0, x1=ln.bbox.x1 - x0, y1=ln.bbox.y1 - y0)}
            )
            for ln in lines
        ]
        html = self.stack.table.recognize(crop, shifted)
        rows, header_rows = grid_from_html(html) if html else ([], 0)
        if not rows:
            return self._element(ElementKind.TABLE, lines, page, to_points, box=box)
        return self._element(
            ElementKind.TABLE,
            lines,
            page,
            to_points,
            box=box,
            text=to_markdown(rows, header_rows),
            html=html,
            method=ExtractionMethod.TABLE,
        )
