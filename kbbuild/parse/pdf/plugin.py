"""Registers the PDF parser: pdfminer.six text layer, OCR for pages that have no usable text."""

from __future__ import annotations

import math
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from kbbuild.clean.furniture import page_number_value
from kbbuild.config import OcrSettings
from kbbuild.errors import InputError
from kbbuild.hookspecs import hookimpl
from kbbuild.parse.dates import pdf_date
from kbbuild.parse.pdf.garbled import UNREADABLE_SHARE, garbled_reason, unreadable_share
from kbbuild.parse.pdf.ocr_page import OcrPageReader, OcrStack
from kbbuild.parse.pdf.passwords import password_for
from kbbuild.parse.pdf.textlayer import PARSER_NAME, FontStats, PdfFacts, open_pdf, read_text_layer
from kbbuild.parse.reading_order import xy_cut_order
from kbbuild.parse.windows import OpenHeadings, page_windows
from kbbuild.plugins import Registry
from kbbuild.providers import ParseContext, Parser
from kbbuild.records import BBox, Document, Element, ElementKind, ExtractionMethod, PageInfo, SourceFile


def build_ocr_stack(registry: Registry | None, settings: OcrSettings) -> tuple[OcrStack | None, list[str]]:
    """The configured OCR models, or None with the reason; optional models missing are warnings."""
    if registry is None:
        return None, ["no plugin registry was given to the parser"]
    engine = next((e for e in registry.ocr_engines if e.name == settings.engine), None)
    if engine is None:
        names = ", ".join(e.name for e in registry.ocr_engines) or "none installed"
        return None, [f"OCR engine '{settings.engine}' is not available (have: {names})"]
    engine = engine.configure(settings)
    reason = engine.unavailable_reason()
    if reason:
        return None, [f"OCR engine '{engine.name}' cannot run: {reason}"]
    notes: list[str] = []
    optional = {}
    for kind, wanted in (("layout_models", settings.layout), ("table_models", settings.table)):
        provider = next((p for p in getattr(registry, kind) if p.name == wanted), None) if wanted else None
        if wanted and provider is None:
            notes.append(f"{kind[:-1].replace('_', ' ')} '{wanted}' is not available; OCR runs without it")
        elif provider is not None and (why := (provider := provider.configure(settings)).unavailable_reason()):
            notes.append(f"{provider.name} cannot run ({why}); OCR runs without it")
            provider = None
        optional[kind] = provider
    return OcrStack(engine, optional["layout_models"], optional["table_models"]), notes


@contextmanager
def repaired_copy(path: Path, password: str | None) -> Iterator[Path | None]:
    """A copy of a PDF whose structure pdfminer cannot follow (cross-reference offsets that point
    nowhere, a truncated tail) as pdfium rebuilds it on opening, written out with a fresh
    cross-reference table; None when pdfium cannot open it either. Viewers repair such files
    silently, so a user expects the text of one that opens in every viewer."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(str(path), password=password)
    except pypdfium2.PdfiumError:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="kbbuild-repair-") as folder:
        try:
            if len(pdf) == 0:
                yield None
                return
            copy = Path(folder) / "repaired.pdf"
            pdf.save(copy)
        finally:
            pdf.close()
        yield copy


MIN_RENDER_DPI = 50  # below this, OCR and layout models read nothing useful


def fitting_dpi(width_pt: float, height_pt: float, dpi: float, megapixels: float) -> float | None:
    """The resolution to render a page at: ``dpi``, or lower so that the image stays within
    ``megapixels`` (a 14,400 pt page at 144 dpi would be 829 megapixels, 3.3 GB); None when the page
    has no area or would need less than ``MIN_RENDER_DPI``."""
    if width_pt <= 0 or height_pt <= 0:
        return None
    area_inches = width_pt * height_pt / 72.0 / 72.0
    if area_inches * dpi * dpi <= megapixels * 1e6:
        return dpi
    fit = math.sqrt(megapixels * 1e6 / area_inches)
    return fit if fit >= MIN_RENDER_DPI else None


def render_pages(
    path: Path, pages: list[int], dpi: int, megapixels: float, warnings: list[str], password: str | None = None
) -> Iterator[tuple[int, np.ndarray, float]]:
    """Pages as BGR uint8 images with the resolution each was rendered at, from one open document,
    one image in memory at a time. A page too large for ``[limits] page_megapixels`` at ``dpi`` is
    rendered smaller, or skipped with a warning."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path), password=password)
    try:
        for page in pages:
            width, height = pdf[page - 1].get_size()
            used = fitting_dpi(width, height, dpi, megapixels)
            if used is None:
                warnings.append(
                    f"page {page} ({width:.0f} x {height:.0f} pt) was not rendered for OCR/layout: it cannot fit "
                    f"[limits] page_megapixels = {megapixels:g} at {MIN_RENDER_DPI} dpi or more"
                )
                continue
            if used < dpi:
                warnings.append(
                    f"page {page} ({width:.0f} x {height:.0f} pt) was rendered at {used:.0f} dpi, not {dpi}, "
                    f"to stay within [limits] page_megapixels = {megapixels:g}"
                )
            yield page, pdf[page - 1].render(scale=used / 72.0).to_numpy().copy(), used
    finally:
        pdf.close()


def _overlap(a: BBox, b: BBox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _covered(found: Element, own: list[Element]) -> bool:
    """An OCR element mostly inside the text layer's elements repeats them. The union counts: an
    OCR paragraph often spans two text-layer blocks (a paragraph gap OCR's layout does not split)."""
    b = found.bbox
    if b is None:
        return False
    inside = sum(_overlap(o.bbox, b) for o in own if o.bbox is not None)
    return inside > 0.5 * max(b.width * b.height, 1e-6)


# A page's nonsense is confined to some blocks (a sidebar in a font without a Unicode map) when the
# blocks that read as text hold at least this share of its glyphs; otherwise all of it is replaced.
MIN_KEPT_SHARE = 0.5


@dataclass(frozen=True)
class _Garbled:
    """A page whose text layer decodes to nonsense: why, and whether any of it stays."""

    reason: str
    partial: bool  # True: the blocks that read as text stay, OCR fills in the rest of the page


def _glyph_count(text: str) -> int:
    return sum(not c.isspace() for c in text)


def _drop_garbled(
    elements: list[Element], pages: list[PageInfo]
) -> tuple[list[Element], list[PageInfo], dict[int, _Garbled]]:
    """Find the pages whose text layer decodes to nonsense (glyphs without a usable Unicode map,
    see ``garbled``), drop the nonsense and mark the pages for OCR. Each page is judged as a whole
    and block by block: a sidebar set in a broken font is too small to tip a page's statistics, and
    a page of short garbled lines has no block big enough to judge. Blocks that are nonsense, or
    merely hold unreadable codes, go. When the blocks that stay hold most of the page's glyphs and
    still read as text together, the page is read like a mixed page (OCR adds what they do not
    cover); otherwise its whole text layer goes and OCR replaces it, as for a scan."""
    by_page: dict[int, list[Element]] = defaultdict(list)
    for element in elements:
        if element.text:
            by_page[element.page or 0].append(element)
    found: dict[int, _Garbled] = {}
    dropped: set[int] = set()
    out_pages = []
    for page in pages:
        own = by_page.get(page.number, [])
        reasons = [r for r in (garbled_reason(e.text) for e in own) if r]
        reason = garbled_reason("\n".join(e.text for e in own)) or next(iter(reasons), None)
        if reason is None:
            out_pages.append(page)
            continue
        kept = [e for e in own if unreadable_share(e.text) < UNREADABLE_SHARE and garbled_reason(e.text) is None]
        total = sum(_glyph_count(e.text) for e in own)
        kept_glyphs = sum(_glyph_count(e.text) for e in kept)
        partial = bool(kept) and kept_glyphs >= MIN_KEPT_SHARE * total
        partial = partial and garbled_reason("\n".join(e.text for e in kept)) is None
        if partial:
            kept_ids = {id(e) for e in kept}
            dropped.update(id(e) for e in own if id(e) not in kept_ids)
            page = page.model_copy(update={"garbage_ratio": round(1 - kept_glyphs / max(total, 1), 4)})
        else:
            dropped.update(id(e) for e in own)
            page = page.model_copy(update={"has_text_layer": False, "garbage_ratio": 1.0})
        found[page.number] = _Garbled(reason, partial)
        out_pages.append(page)
    return [e for e in elements if id(e) not in dropped], out_pages, found


def _garbled_notes(found: dict[int, _Garbled], pages: list[PageInfo]) -> list[str]:
    """One warning per page whose text layer was nonsense: why, and what replaced it."""
    ocr = {p.number for p in pages if p.ocr}
    notes = []
    for number, garbled in sorted(found.items()):
        what = "part of the text layer" if garbled.partial else "text layer"
        if number in ocr:
            done = "those blocks read by OCR" if garbled.partial else "read by OCR"
        else:
            done = "those blocks dropped, not OCRed" if garbled.partial else "its text dropped, not OCRed"
        notes.append(f"page {number}: {what} decodes to nonsense ({garbled.reason}); {done}")
    return notes


class PdfParser(Parser):
    name = PARSER_NAME
    # 3: spaces between CJK characters that the layout does not justify are removed (cjk_spacing).
    version = f"4+pdfminer.six-{metadata.version('pdfminer.six')}"
    formats = frozenset({"pdf"})
    priority = 10

    def parse(self, source: SourceFile, context: ParseContext) -> Document:
        """The whole file as one Document, however long (``parse_windows`` reads a long one in windows)."""
        return next(self._documents(source, context, window_pages=None))

    def parse_windows(self, source: SourceFile, context: ParseContext) -> Iterator[Document]:
        """A PDF longer than ``[parse] pdf_window_pages`` as consecutive windows of pages, one held
        at a time; a shorter one whole."""
        yield from self._documents(source, context, context.settings.parse.pdf_window_pages)

    def _documents(self, source: SourceFile, context: ParseContext, window_pages: int | None) -> Iterator[Document]:
        """The file's windows (one, when ``window_pages`` is None or the file is no longer). The file is
        opened once; the outline, the font statistics, the title, the headings open at a cut and the
        Info properties pass from each window to the next. A file pdfminer cannot follow is read from a
        copy pdfium repaired, from the window that found out onwards."""
        settings = context.settings
        path = Path(source.path)
        password = password_for(source.relpath, settings.ingest.pdf_password_file)
        with ExitStack() as stack:
            target = path

            def repaired(error: InputError) -> Path:
                if target != path or not str(error).startswith("corrupt PDF"):
                    raise error
                copy = stack.enter_context(repaired_copy(path, password))
                if copy is None:
                    raise error
                return copy

            def damaged(error: InputError) -> str:
                damage = str(error).removeprefix("corrupt PDF: ")
                return f"the PDF is damaged ({damage}); it was read from a copy pdfium repaired, as viewers do"

            notes: list[str] = []
            try:
                facts = open_pdf(target, password, settings.limits.pdf_pages)
            except InputError as error:
                target = repaired(error)
                facts = open_pdf(target, password, settings.limits.pdf_pages)
                notes.append(damaged(error))
            windows = page_windows(facts.pages, window_pages or facts.pages)
            reading = _WindowReading(facts, FontStats(), document_info(path, password), password)
            headings = OpenHeadings()
            title: str | None = None
            for number, pages in enumerate(windows):
                try:
                    document = self._read_window(source, target, pages, reading, context)
                except InputError as error:
                    target = repaired(error)
                    reading.facts = open_pdf(target, password, settings.limits.pdf_pages)
                    document = self._read_window(source, target, pages, reading, context)
                    notes.append(damaged(error))
                title = document.title if number == 0 else title
                carried = headings.carried()
                for element in document.elements:
                    headings.see(element)
                yield document.model_copy(
                    update={
                        "elements": (*carried, *document.elements),
                        "title": title,
                        "warnings": (*notes, *document.warnings),
                        "window": number,
                        "continues": number < len(windows) - 1,
                    }
                )
                notes = []

    def _read_window(
        self, source: SourceFile, target: Path, pages: tuple[int, int], reading: _WindowReading, context: ParseContext
    ) -> Document:
        """Pages ``first..last`` of ``target``: the text layer, then OCR where it is missing or nonsense,
        then (on a short document) the layout model's furniture and (if asked) the text in figures."""
        settings = context.settings
        password = reading.password
        warnings: list[str] = []
        elements, page_facts, title = read_text_layer(
            target,
            settings.parse.heading_size_ratio,
            context.on_page,
            settings.parse.workers or os.cpu_count() or 1,
            settings.parse.text_engine,
            password=password,
            pages=pages,
            facts=reading.facts,
            fonts=reading.fonts,
        )
        elements, page_facts, garbled = _drop_garbled(elements, page_facts)
        title_dropped = title is not None and not any(e.kind is ElementKind.TITLE for e in elements)
        need_ocr = [p for p in page_facts if p.needs_ocr or p.number in garbled]
        if need_ocr:
            keep_text = frozenset(n for n, g in garbled.items() if g.partial)
            elements, page_facts, ocr_warnings = self._ocr(
                target, elements, page_facts, need_ocr, context, keep_text, password
            )
            warnings.extend(ocr_warnings)
        if garbled:
            warnings.extend(_garbled_notes(garbled, page_facts))
            if title_dropped:  # it was nonsense: the first heading OCR found on page 1, if any
                title = next(
                    (" ".join(e.text.split()) for e in elements if e.page == 1 and e.kind is ElementKind.HEADING), None
                )
        short = reading.facts.pages <= settings.clean.layout_furniture_pages
        if short and settings.clean.strip_furniture and settings.ocr.enabled and settings.ocr.layout:
            elements, layout_warnings = self._layout_furniture(target, elements, page_facts, context, password)
            warnings.extend(layout_warnings)
        if settings.ocr.enabled and settings.ocr.figures:
            elements, figure_warnings = self._ocr_figures(target, elements, page_facts, context, password)
            warnings.extend(figure_warnings)
            if title_dropped:  # it was nonsense: the first heading OCR found on page 1, if any
                title = next((e.text for e in elements if e.page == 1 and e.kind is ElementKind.HEADING), None)
        return Document(
            source=source,
            parser=self.name,
            elements=tuple(elements),
            pages=tuple(page_facts),
            title=title,
            warnings=tuple(warnings),
            metadata=reading.metadata,
        )

    def _ocr(
        self,
        path: Path,
        elements: list[Element],
        pages: list[PageInfo],
        need_ocr: list[PageInfo],
        context: ParseContext,
        keep_text: frozenset[int] = frozenset(),
        password: str | None = None,
    ) -> tuple[list[Element], list[PageInfo], list[str]]:
        """OCR of ``need_ocr``: its elements replace the page's, except on mixed pages and the pages in
        ``keep_text`` (partly nonsense, the nonsense already dropped), where the text layer's own
        elements stay and OCR adds what they do not cover."""
        numbers = ", ".join(str(p.number) for p in need_ocr)
        settings = context.settings.ocr
        if not settings.enabled:
            return elements, pages, [f"pages {numbers} have no usable text layer and OCR is disabled"]
        stack, notes = build_ocr_stack(context.registry, settings)
        if stack is None:
            return elements, pages, [f"pages {numbers} have no usable text layer and were not OCRed: {notes[0]}"]
        reader = OcrPageReader(stack, settings, self.name)
        by_page: dict[int, list[Element]] = {}
        facts = {p.number: p for p in need_ocr}
        megapixels = context.settings.limits.page_megapixels
        for number, image, dpi in render_pages(path, list(facts), settings.dpi, megapixels, notes, password):
            page = facts[number]
            read = reader.read(image, number, dpi)
            if page.looks_mixed or number in keep_text:  # keep the text layer; add what OCR found elsewhere
                own = [e for e in elements if e.page == page.number and (e.kind is not ElementKind.FIGURE or e.text)]
                read = own + [e for e in read if not _covered(e, own)]
                read = [read[i] for i in xy_cut_order([e.bbox for e in read])]  # type: ignore[misc]
            by_page[page.number] = read
        merged = [e for e in elements if e.page not in by_page]
        merged.extend(e for page_elements in by_page.values() for e in page_elements)
        merged.sort(key=lambda e: e.page or 0)  # stable: reading order within a page is kept
        pages = [p.model_copy(update={"ocr": True}) if p.number in by_page else p for p in pages]
        return merged, pages, notes

    def _layout_furniture(
        self,
        path: Path,
        elements: list[Element],
        pages: list[PageInfo],
        context: ParseContext,
        password: str | None = None,
    ) -> tuple[list[Element], list[str]]:
        """Headers and footers of a document too short to show them by repetition, judged by the
        layout model (the same PP-Structure classes OCR pages get). Only blocks inside the page's
        top or bottom band count: the model also calls some table headings "header"."""
        wanted = [p for p in pages if not p.ocr and p.has_text_layer]
        if not wanted:
            return elements, []
        settings = context.settings
        stack, notes = build_ocr_stack(context.registry, settings.ocr)
        if stack is None or stack.layout is None:
            return elements, []
        band = settings.clean.furniture_band
        heights = {p.number: p.height for p in wanted}
        regions: dict[int, list[tuple[str, tuple[float, float, float, float]]]] = {}
        numbers, megapixels = [p.number for p in wanted], settings.limits.page_megapixels
        for number, image, dpi in render_pages(path, numbers, settings.ocr.dpi, megapixels, notes, password):
            scale = 72.0 / dpi
            regions[number] = [
                (r.kind, (r.bbox.x0 * scale, r.bbox.y0 * scale, r.bbox.x1 * scale, r.bbox.y1 * scale))
                for r in stack.layout.detect(image)
                if r.kind in ("header", "footer")
            ]
        out = []
        for element in elements:
            box, height = element.bbox, heights.get(element.page or 0)
            # Titles and headings are never the model's to strip: its "header" class also fires on a
            # first page's title, and one model call is weaker evidence than repetition.
            content = (ElementKind.TABLE, ElementKind.FIGURE, ElementKind.TITLE, ElementKind.HEADING)
            if box is None or height is None or element.kind in content:
                out.append(element)
                continue
            cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
            in_band = box.y1 <= band * height or box.y0 >= (1 - band) * height
            kind = next(
                (k for k, (x0, y0, x1, y1) in regions.get(element.page or 0, []) if x0 <= cx <= x1 and y0 <= cy <= y1),
                None,
            )
            if kind is None or not in_band:
                out.append(element)
                continue
            new_kind = ElementKind.PAGE_HEADER if kind == "header" else ElementKind.PAGE_FOOTER
            if page_number_value(element.text) is not None:
                new_kind = ElementKind.PAGE_NUMBER
            out.append(element.model_copy(update={"kind": new_kind, "level": None, "meta": {"furniture": "layout"}}))
        return out, notes

    def _ocr_figures(
        self,
        path: Path,
        elements: list[Element],
        pages: list[PageInfo],
        context: ParseContext,
        password: str | None = None,
    ) -> tuple[list[Element], list[str]]:
        """Text inside figures of text-layer pages (chart labels, diagram text), read by OCR."""
        ocr_pages = {p.number for p in pages if p.ocr}
        wanted = {e.page for e in elements if e.kind is ElementKind.FIGURE and e.page not in ocr_pages}
        if not wanted:
            return elements, []
        settings = context.settings.ocr
        stack, notes = build_ocr_stack(context.registry, settings)
        if stack is None:
            return elements, [f"figures were not OCRed: {notes[0]}"]
        reader = OcrPageReader(stack, settings, self.name)
        read: dict[int, tuple[str, float | None]] = {}  # figure index -> OCR text, confidence
        megapixels = context.settings.limits.page_megapixels
        for number, image, dpi in render_pages(path, sorted(wanted), settings.dpi, megapixels, notes, password):
            for index, element in enumerate(elements):
                if element.kind is ElementKind.FIGURE and element.page == number and element.bbox is not None:
                    read[index] = reader.read_region_text(image, element.bbox, dpi)
        out = []
        for index, element in enumerate(elements):
            text, confidence = read.get(index, ("", None))
            if text:
                element = element.model_copy(
                    update={"text": text, "confidence": round(confidence or 0.0, 4), "method": ExtractionMethod.OCR}
                )
            out.append(element)
        return out, notes


@dataclass
class _WindowReading:
    """What every window of one PDF is read with, and what the windows read before it have learned."""

    facts: PdfFacts
    fonts: FontStats
    metadata: dict[str, str]
    password: str | None


@hookimpl
def kbbuild_register_parsers(register) -> None:
    register(PdfParser())


INFO_KEYS = ("Title", "Subject", "Author", "Keywords")


def document_info(path: Path, password: str | None) -> dict[str, str]:
    """The PDF's Info dictionary (title, subject, author, keywords), lower-case keys, empty ones left
    out, and its CreationDate as ISO 8601 ("created"). Optional by nature: a file whose Info cannot
    be read simply has none."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(str(path), password=password)
    except Exception:  # the pages were read; a damaged Info is not worth failing over
        return {}
    try:
        info = pdf.get_metadata_dict(skip_empty=True)
    except Exception:
        return {}
    finally:
        pdf.close()
    found = {key.lower(): " ".join(str(info[key]).split()) for key in INFO_KEYS if str(info.get(key, "")).strip()}
    created = pdf_date(str(info.get("CreationDate", "")))
    if created is not None:
        found["created"] = created.isoformat()
    return found
