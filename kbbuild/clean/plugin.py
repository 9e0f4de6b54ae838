"""Registers the built-in cleaners: characters, furniture, headings, quality, paragraphs, line joining, PII,
identity."""

from __future__ import annotations

from collections import Counter

from kbbuild.clean.furniture import strip_furniture
from kbbuild.clean.headings import demote_false_headings
from kbbuild.clean.identity import document_identity
from kbbuild.clean.paragraphs import rejoin_paragraphs
from kbbuild.clean.pii import redact
from kbbuild.clean.quality import filter_quality
from kbbuild.config import Settings
from kbbuild.hookspecs import hookimpl
from kbbuild.providers import Cleaner
from kbbuild.records import Document, ElementKind
from kbbuild.text.characters import unify_characters
from kbbuild.text.lines import join_lines


class FurnitureStripper(Cleaner):
    """Moves running headers, footers, page numbers and watermarks out of the body.

    Runs before line joining (order 5): repetition is judged line by line, as the page shows them.
    """

    name = "strip-furniture"
    version = "1"
    order = 5

    def clean(self, document: Document, settings: Settings) -> Document:
        if settings.clean.strip_furniture:
            return strip_furniture(document, settings.clean)
        # --keep-headers: what the OCR layout model called header/footer is body text too.
        elements = tuple(
            e.model_copy(update={"kind": ElementKind.PARAGRAPH, "meta": {**e.meta, "furniture_kept": e.kind.value}})
            if e.kind.is_furniture
            else e
            for e in document.elements
        )
        return document.model_copy(update={"elements": elements})


class HeadingChecker(Cleaner):
    """Turns cover-page banners and address lines that were read as headings back into paragraphs
    (``clean.headings``): they would otherwise head every chunk of the document.

    Runs after furniture stripping (order 6), on the headings that are left.
    """

    name = "check-headings"
    version = "1"
    order = 6

    def clean(self, document: Document, settings: Settings) -> Document:
        return demote_false_headings(document)[0]


class QualityFilter(Cleaner):
    """Drops lines of symbols and OCR speckle, and the stray fragments of near-empty pages.

    Runs on visual lines (order 7), before they are joined into running text.
    """

    name = "quality-filter"
    version = "1"
    order = 7

    def clean(self, document: Document, settings: Settings) -> Document:
        return filter_quality(document, settings.clean)


class PiiRedactor(Cleaner):
    """Replaces personal data by typed placeholders when ``--redact-pii`` is on.

    Runs last (order 30), on joined text, so that a number broken across two lines is still found.
    Furniture is redacted too: it is kept in the document and may be exported.
    """

    name = "redact-pii"
    version = "1"
    order = 30

    def clean(self, document: Document, settings: Settings) -> Document:
        options = settings.clean
        if not options.redact_pii:
            return document
        total: Counter[str] = Counter()

        def scrub(text: str) -> str:
            cleaned, counts = redact(text, options.pii_kinds, options.phone_region)
            total.update(counts)
            return cleaned

        elements = []
        for element in document.elements:
            update: dict[str, object] = {"text": scrub(element.text)}
            if element.html is not None:
                update["html"] = redact(element.html, options.pii_kinds, options.phone_region)[0]
            elements.append(element.model_copy(update=update))
        title = redact(document.title, options.pii_kinds, options.phone_region)[0] if document.title else None
        pii = Counter(document.cleaning.pii) + total
        cleaning = document.cleaning.model_copy(update={"pii": dict(sorted(pii.items()))})
        return document.model_copy(update={"elements": tuple(elements), "title": title, "cleaning": cleaning})


class IdentityKeeper(Cleaner):
    """Gathers whose document this is and for when (``clean.identity``), for every chunk to carry.

    Runs after PII redaction (order 40): it reads furniture and the first page as they will be kept.
    """

    name = "keep-identity"
    version = "1"
    order = 40

    def clean(self, document: Document, settings: Settings) -> Document:
        if not settings.chunk.document_context:
            return document
        identity = document_identity(document)
        options = settings.clean
        if options.redact_pii:  # the file's properties and name were not in the body the redactor saw
            identity = tuple(redact(line, options.pii_kinds, options.phone_region)[0] for line in identity)
        return document.model_copy(update={"identity": identity})


class ParagraphRejoiner(Cleaner):
    """Joins paragraphs that wide line spacing split into one block per line (``clean.paragraphs``).

    Runs on visual lines with their boxes (order 8), just before the line joiner decides how they meet.
    """

    name = "rejoin-paragraphs"
    version = "1"
    order = 8

    def clean(self, document: Document, settings: Settings) -> Document:
        return rejoin_paragraphs(document)[0]


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


class CharacterUnifier(Cleaner):
    """Look-alike code points (CJK compatibility ideographs, Kangxi radicals) become the usual
    characters (``text.characters``), first, so that furniture detection, deduplication, search
    and the embedder all see one spelling of a word."""

    name = "unify-characters"
    version = "1"
    order = 1

    def clean(self, document: Document, settings: Settings) -> Document:
        elements = []
        changed = False
        for element in document.elements:
            text = unify_characters(element.text)
            html = unify_characters(element.html) if element.html is not None else None
            if text == element.text and html == element.html:
                elements.append(element)
                continue
            changed = True
            elements.append(element.model_copy(update={"text": text, "html": html}))
        title = unify_characters(document.title) if document.title is not None else None
        if not changed and title == document.title:
            return document
        return document.model_copy(update={"elements": tuple(elements), "title": title})


@hookimpl
def kbbuild_register_cleaners(register) -> None:
    register(CharacterUnifier())
    register(FurnitureStripper())
    register(HeadingChecker())
    register(QualityFilter())
    register(ParagraphRejoiner())
    register(LineJoiner())
    register(PiiRedactor())
    register(IdentityKeeper())
