"""A long stream of elements as a series of Documents, each about ``WINDOW_CHARS`` of text.

A file too large to hold whole (a 200 MB text, a sheet of 100k rows) is read as a stream of
elements; cleaning and chunking then run window by window (``pipeline.prepare``), so a worker
holds one window at a time, and its chunks leave for the driver as the window is done.

What a window would lose by being cut from its file is carried into it: the title, and the headings
open at the cut (marked ``meta["carried"]``, so the chunker uses them for heading paths but does not
emit them again as chunks of their own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from kbbuild.errors import InputError
from kbbuild.records import Document, Element, ElementKind, SourceFile

WINDOW_CHARS = 1_000_000


def _carried(heading: Element) -> Element:
    return heading.model_copy(update={"meta": {**heading.meta, "carried": True}})


def document_windows(
    source: SourceFile,
    parser: str,
    elements: Iterable[Element],
    warnings: list[str],
    on_window: Callable[[int], None],
    window_chars: int = WINDOW_CHARS,
) -> Iterator[Document]:
    """Documents of consecutive elements. ``warnings`` may grow while ``elements`` is read: the last
    window carries them all. ``on_window`` hears each window's number as it is completed (the text
    file's unit of progress, which the time limit allows for as it does for a page)."""
    title: str | None = None
    open_headings: list[Element] = []
    window: list[Element] = []
    size = 0
    number = 0
    has_text = False

    def document(final: bool) -> Document:
        nonlocal number
        number += 1
        on_window(number)
        return Document(
            source=source,
            parser=parser,
            elements=tuple(window),
            title=title,
            warnings=tuple(warnings) if final else (),
        )

    for element in elements:
        if element.kind is ElementKind.TITLE and title is None:
            title = element.text
        if element.kind is ElementKind.HEADING:
            level = element.level or 1
            while open_headings and (open_headings[-1].level or 1) >= level:
                open_headings.pop()
            open_headings.append(element)
        has_text = has_text or (bool(element.text.strip()) and not element.kind.is_furniture)
        window.append(element)
        size += len(element.text)
        if size >= window_chars:
            yield document(final=False)
            window = [_carried(heading) for heading in open_headings]
            size = 0
    if not has_text:
        raise InputError(f"no text found in this {source.format} file")
    yield document(final=True)
