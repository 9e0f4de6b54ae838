"""Registers the built-in cleaners, in the order they run: furniture, line joining, quality, PII."""

from __future__ import annotations

from kbbuild.clean.furniture import strip_furniture
from kbbuild.config import Settings
from kbbuild.hookspecs import hookimpl
from kbbuild.providers import Cleaner
from kbbuild.records import Document
from kbbuild.text.lines import join_lines


class FurnitureStripper(Cleaner):
    """Moves running headers, footers, page numbers and watermarks out of the body.

    Runs before line joining (order 5): repetition is judged line by line, as the page shows them.
    """

    name = "strip-furniture"
    version = "1"
    order = 5

    def clean(self, document: Document, settings: Settings) -> Document:
        if not settings.clean.strip_furniture:
            return document
        return strip_furniture(document, settings.clean)


class LineJoiner(Cleaner):
    """Turns visual lines into running text and drops blocks left empty.

    Runs first (order 10) so later cleaners and the chunker see sentences, not PDF line breaks.
    Tables keep their line structure: a row per line is their meaning.
    """

    name = "join-lines"
    version = "1"
    order = 10

    def clean(self, document: Document, settings: Settings) -> Document:
        elements = []
        for element in document.elements:
            if element.html is not None or element.kind.value in ("table", "code", "formula", "figure"):
                elements.append(element)
                continue
            text = join_lines(element.text)
            if text:
                elements.append(element if text == element.text else element.model_copy(update={"text": text}))
        return document.model_copy(update={"elements": tuple(elements)})


@hookimpl
def kbbuild_register_cleaners(register) -> None:
    register(FurnitureStripper())
    register(LineJoiner())
