"""kbbuild plugin: SubRip subtitles -> one paragraph element per cue, cue times in ``meta``."""

from __future__ import annotations

import re
from pathlib import Path

from kbbuild import hookimpl
from kbbuild.errors import InputError
from kbbuild.providers import ParseContext, Parser
from kbbuild.records import Document, Element, ElementKind, ExtractionMethod, SourceFile

# The kbbuild plugin API versions this plugin is written for (kbbuild refuses to load it otherwise).
kbbuild_api = ">=1.0,<2"

_TIMING = re.compile(r"(\d\d:\d\d:\d\d[,.]\d{3})\s*-->\s*(\d\d:\d\d:\d\d[,.]\d{3})")


class SrtParser(Parser):
    name = "srt"
    version = "0.1.0"
    formats = frozenset({"srt"})

    def parse(self, source: SourceFile, context: ParseContext) -> Document:
        raw = Path(source.path).read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text: an .srt file must be UTF-8 encoded") from None
        elements = []
        for block in re.split(r"\r?\n\s*\r?\n", text.strip()):
            lines = [line.strip() for line in block.splitlines() if line.strip()]
            timing_at = next((i for i, line in enumerate(lines) if _TIMING.search(line)), None)
            if timing_at is None:
                continue
            start, end = _TIMING.search(lines[timing_at]).groups()
            words = " ".join(lines[timing_at + 1 :])
            if words:
                elements.append(
                    Element(
                        kind=ElementKind.PARAGRAPH,
                        text=words,
                        parser=self.name,
                        method=ExtractionMethod.MARKUP,
                        meta={"start": start, "end": end},
                    )
                )
        if not elements:
            raise InputError("no subtitle cues found (expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm' lines)")
        return Document(source=source, parser=self.name, elements=tuple(elements))


@hookimpl
def kbbuild_register_parsers(register) -> None:
    register(SrtParser())
