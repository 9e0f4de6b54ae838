"""A long stream of elements as a series of Documents, each about ``WINDOW_CHARS`` of text.

A file too large to hold whole (a 200 MB text, a sheet of 100k rows, a 10,000-page PDF) is read
as a stream of elements or of page ranges; cleaning and chunking then run window by window
(``pipeline.prepare``), so a worker holds one window at a time, and its chunks leave for the driver
as the window is done.

What a window would lose by being cut from its file is carried into it: the title, and the headings
open at the cut (marked ``meta["carried"]``, so the chunker uses them for heading paths but does not
emit them again as chunks of their own). Each window knows its number (``Document.window``): what
is judged from a file's opening (cover banners, its identity) is judged on window 0 alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

from kbbuild.errors import InputError
from kbbuild.records import Document, Element, ElementKind, SourceFile

WINDOW_CHARS = 1_000_000


def page_windows(pages: int, window_pages: int) -> list[tuple[int, int]]:
    """Pages 1..``pages`` as consecutive (first, last) ranges of at most ``window_pages``, as even as
    can be: a last window of a handful of pages would show too little repetition to find its running
    headers."""
    count = max(1, math.ceil(pages / window_pages))
    bounds = [round(index * pages / count) for index in range(count + 1)]
    return [(bounds[index] + 1, bounds[index + 1]) for index in range(count)]


class OpenHeadings:
    """The headings open at the end of what has been read so far, to carry into the next window."""

    def __init__(self) -> None:
        self._open: list[Element] = []

    def see(self, element: Element) -> None:
        if element.kind is not ElementKind.HEADING or element.meta.get("carried"):
            return
        level = element.level or 1
        while self._open and (self._open[-1].level or 1) >= level:
            self._open.pop()
        self._open.append(element)

    def carried(self) -> list[Element]:
        return [heading.model_copy(update={"meta": {**heading.meta, "carried": True}}) for heading in self._open]


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
    open_headings = OpenHeadings()
    window: list[Element] = []
    size = 0
    number = 0
    has_text = False

    def document(final: bool) -> Document:
        nonlocal number
        on_window(number + 1)
        document = Document(
            source=source,
            parser=parser,
            elements=tuple(window),
            title=title,
            warnings=tuple(warnings) if final else (),
            window=number,
            continues=not final,
        )
        number += 1
        return document

    for element in elements:
        if element.kind is ElementKind.TITLE and title is None:
            title = element.text
        open_headings.see(element)
        has_text = has_text or (bool(element.text.strip()) and not element.kind.is_furniture)
        window.append(element)
        size += len(element.text)
        if size >= window_chars:
            yield document(final=False)
            window = open_headings.carried()
            size = 0
    if not has_text:
        raise InputError(f"no text found in this {source.format} file")
    yield document(final=True)
