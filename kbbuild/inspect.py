"""``kbbuild inspect``: look at what the parser made of a file, as a picture or as Markdown.

This is how users (and kbbuild's developers) debug parsing: the overlay shows every element's
box, kind and reading-order number on the rendered page; the Markdown shows the document as the
chunker will see it (after cleaning), with page breaks marked.
"""

from __future__ import annotations

from pathlib import Path

from kbbuild.config import Settings
from kbbuild.errors import InputError
from kbbuild.pipeline.discover import discover, mislabel_reason
from kbbuild.plugins import Registry
from kbbuild.providers import ParseContext
from kbbuild.records import Document, ElementKind

COLORS = {
    ElementKind.TITLE: (200, 0, 0),
    ElementKind.HEADING: (220, 90, 0),
    ElementKind.PARAGRAPH: (0, 90, 200),
    ElementKind.LIST_ITEM: (0, 140, 200),
    ElementKind.TABLE: (0, 150, 0),
    ElementKind.FIGURE: (150, 0, 150),
    ElementKind.CAPTION: (120, 60, 160),
    ElementKind.FORMULA: (0, 130, 130),
    ElementKind.PAGE_HEADER: (130, 130, 130),
    ElementKind.PAGE_FOOTER: (130, 130, 130),
    ElementKind.PAGE_NUMBER: (130, 130, 130),
    ElementKind.WATERMARK: (130, 130, 130),
}


def parse_file(path: Path, settings: Settings, registry: Registry, clean: bool = True) -> Document:
    found = discover(path, settings, registry.supported_formats())
    if found.failures:
        raise InputError(f"{path}: {found.failures[0].error}")
    if not found.sources:
        reason = mislabel_reason(path, path.suffix.lstrip(".")) or "no parser for this format"
        raise InputError(f"{path}: {reason}")
    source = found.sources[0]
    parser = registry.parser_for(source.format, settings.parse.parsers)
    document = parser.parse(source, ParseContext(settings, registry=registry))
    if clean:
        for cleaner in registry.cleaners:
            document = cleaner.clean(document, settings)
    return document


def draw_page(path: Path, document: Document, page: int, out: Path, dpi: int = 110) -> int:
    """Write the page with element boxes drawn over it; returns how many elements were drawn."""
    import pypdfium2
    from PIL import ImageDraw

    pages = len(document.pages)
    if not 1 <= page <= pages:
        raise InputError(f"page {page} does not exist (the document has {pages} pages)")
    pdf = pypdfium2.PdfDocument(str(path))
    try:
        image = pdf[page - 1].render(scale=dpi / 72).to_pil().convert("RGB")
    finally:
        pdf.close()
    draw = ImageDraw.Draw(image)
    scale = dpi / 72
    elements = [e for e in document.elements if e.page == page and e.bbox is not None]
    for order, element in enumerate(elements, start=1):
        box = element.bbox
        color = COLORS.get(element.kind, (0, 0, 0))
        rect = (box.x0 * scale, box.y0 * scale, box.x1 * scale, box.y1 * scale)
        draw.rectangle(rect, outline=color, width=2)
        label = f"{order} {element.kind.value}" + (f" L{element.level}" if element.level else "")
        if element.method.value != "text_layer":
            label += f" [{element.method.value}]"
        text_box = draw.textbbox((rect[0], rect[1]), label)
        draw.rectangle((text_box[0] - 1, text_box[1] - 1, text_box[2] + 1, text_box[3] + 1), fill=color)
        draw.text((rect[0], rect[1]), label, fill=(255, 255, 255))
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return len(elements)


def to_markdown(document: Document, with_furniture: bool = False) -> str:
    parts: list[str] = []
    page = None
    for element in document.elements:
        if element.page != page and element.page is not None:
            page = element.page
            parts.append(f"<!-- page {page} -->")
        kind, text = element.kind, element.text.strip()
        if kind.is_furniture:
            if with_furniture and text:
                parts.append(f"<!-- {kind.value}: {text} -->")
            continue
        if kind is ElementKind.TITLE:
            parts.append(f"# {text}")
        elif kind is ElementKind.HEADING:
            parts.append("#" * min((element.level or 1) + 1, 6) + " " + " ".join(text.split()))
        elif kind is ElementKind.FIGURE:
            caption = element.meta.get("caption") or "figure"
            parts.append(f"![{caption}](page-{element.page})" + (f"\n\n{text}" if text else ""))
        elif kind is ElementKind.CAPTION:
            parts.append(f"*{text}*")
        elif kind is ElementKind.LIST_ITEM:
            parts.append(f"- {text}")
        elif text:
            parts.append(text)
    return "\n\n".join(parts) + "\n"
