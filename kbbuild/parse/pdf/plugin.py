"""Registers the pdfminer.six text-layer parser for PDFs."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from kbbuild.hookspecs import hookimpl
from kbbuild.parse.pdf.textlayer import PARSER_NAME, read_text_layer
from kbbuild.providers import ParseContext, Parser
from kbbuild.records import Document, SourceFile


class PdfTextLayerParser(Parser):
    name = PARSER_NAME
    version = f"1+pdfminer.six-{metadata.version('pdfminer.six')}"
    formats = frozenset({"pdf"})
    priority = 10

    def parse(self, source: SourceFile, context: ParseContext) -> Document:
        elements, pages, title = read_text_layer(
            Path(source.path), context.settings.parse.heading_size_ratio, context.on_page
        )
        warnings = []
        scanned = [p.number for p in pages if p.looks_scanned]
        if scanned:
            warnings.append(
                f"{len(scanned)} scanned page(s) without a text layer ({_ranges(scanned)}): "
                "no OCR engine is installed in this build, their text is not indexed"
            )
        return Document(
            source=source,
            parser=self.name,
            elements=tuple(elements),
            pages=tuple(pages),
            title=title,
            warnings=tuple(warnings),
        )


def _ranges(numbers: list[int]) -> str:
    return "pages " + ", ".join(str(n) for n in numbers)


@hookimpl
def kbbuild_register_parsers(register) -> None:
    register(PdfTextLayerParser())
