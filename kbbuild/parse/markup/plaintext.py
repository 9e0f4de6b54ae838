"""Large plain-text and Markdown files, read block by block into elements.

unstructured reads a text file whole and builds its elements with regexes over the whole string: 20 MB
of text took 2.6 GB, and a 200 MB log or dump would need more than any worker has. Above
``LARGE_TEXT_BYTES`` kbbuild reads the file itself, ``BLOCK_BYTES`` at a time through an incremental
decoder, so memory follows the block and the paragraph being built, not the file:

* the encoding is decided once, from the byte-order mark or the first block (UTF-8 first, then
  charset-normalizer's guess); bytes that do not decode later are replaced and counted in a warning;
* paragraphs end at blank lines, and one that grows past ``PARAGRAPH_CHARS`` (a one-line file, a
  minified dump) is cut at its last space, or anywhere in scripts without spaces;
* in Markdown, ``#`` headings open sections (with their level), list items and fenced code are kept
  as such; the rest of the syntax stays in the text, as it reads fine to a model.

Smaller files stay with unstructured, which also guesses headings from the shape of plain-text lines.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

from kbbuild.errors import InputError
from kbbuild.parse.markup.elements import markup_element
from kbbuild.records import Element, ElementKind
from kbbuild.text.lines import join_lines

LARGE_TEXT_BYTES = 8 * 1024 * 1024
BLOCK_BYTES = 1024 * 1024
PARAGRAPH_CHARS = 50_000
_SAMPLE_BYTES = 64 * 1024

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+\S")
_FENCE = re.compile(r"^\s*(```|~~~)")
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def _decodes_as_utf8(sample: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(sample: bytes, fmt: str) -> str:
    """The codec for a file whose first bytes are ``sample``; InputError when they are not text."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if len(_CONTROL.findall(sample)) > max(len(sample) // 100, 8):
        raise InputError(f"this {fmt} file is not text: its first bytes are binary")
    if _decodes_as_utf8(sample):
        return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise InputError(f"this {fmt} file is not text in any encoding kbbuild could detect")
    return best.encoding


def _cut(paragraph: str) -> tuple[str, str]:
    """A long paragraph's first ``PARAGRAPH_CHARS`` or so, cut after a space when there is one."""
    head = paragraph[:PARAGRAPH_CHARS]
    space = head.rfind(" ", PARAGRAPH_CHARS // 2)
    if space > 0:
        return head[: space + 1], paragraph[space + 1 :]
    return head, paragraph[PARAGRAPH_CHARS:]


class _Reader:
    """Lines in, elements out; the only state is the paragraph being built and the open fence."""

    def __init__(self, fmt: str, parser: str) -> None:
        self.markdown = fmt == "md"
        self.parser = parser
        self.lines: list[str] = []
        self.size = 0
        self.kind = ElementKind.PARAGRAPH
        self.fence: str | None = None

    def _element(self, kind: ElementKind, text: str, **fields) -> Element:
        return markup_element(kind, text, self.parser, **fields)

    def flush(self) -> Iterator[Element]:
        """The paragraph (list item, code block) built so far, as an element."""
        if self.lines:
            yield from self._emit_text(self.kind, "\n".join(self.lines))
        self.lines, self.size, self.kind = [], 0, ElementKind.PARAGRAPH

    def append(self, line: str) -> Iterator[Element]:
        self.lines.append(line)
        self.size += len(line) + 1
        while self.size > PARAGRAPH_CHARS:
            head, rest = _cut("\n".join(self.lines))
            kind = self.kind
            self.lines, self.size = [], 0
            yield from self._emit_text(kind, head)
            self.kind = kind
            if rest:
                self.lines, self.size = [rest], len(rest)

    def _emit_text(self, kind: ElementKind, text: str) -> Iterator[Element]:
        text = text if kind is ElementKind.CODE else join_lines(text)
        if text.strip():
            yield self._element(kind, text)

    def line(self, line: str) -> Iterator[Element]:
        if self.markdown and (fence := _FENCE.match(line)):
            if self.fence is None:
                yield from self.flush()
                self.fence, self.kind = fence.group(1), ElementKind.CODE
                return
            if fence.group(1) == self.fence:
                self.fence = None
                yield from self.flush()
                return
        if self.fence is not None:
            yield from self.append(line)
            return
        if not line.strip():
            yield from self.flush()
            return
        if self.markdown and (heading := _HEADING.match(line)):
            yield from self.flush()
            if heading.group(2):
                yield self._element(ElementKind.HEADING, heading.group(2), level=len(heading.group(1)))
            return
        if self.markdown and _LIST_ITEM.match(line):
            yield from self.flush()
            self.kind = ElementKind.LIST_ITEM
        yield from self.append(line)


class _Replacements:
    """Counts the byte sequences a decoder replaced (codecs error handlers are registered globally
    by name, so there is one, registered once, and each file reads the difference)."""

    name = "kbbuild-count-replaced"
    count = 0

    @classmethod
    def handle(cls, error: UnicodeDecodeError) -> tuple[str, int]:
        cls.count += 1
        return "\ufffd", error.end


codecs.register_error(_Replacements.name, _Replacements.handle)


def read_text(path: Path, fmt: str, parser: str, warnings: list[str]) -> Iterator[Element]:
    """The file's elements in order; decoding problems are added to ``warnings`` at the end."""
    reader = _Reader(fmt, parser)
    replaced_before = _Replacements.count
    with path.open("rb") as stream:
        block = stream.read(BLOCK_BYTES)
        encoding = detect_encoding(block[:_SAMPLE_BYTES], fmt)
        decoder = codecs.getincrementaldecoder(encoding)(errors=_Replacements.name)
        carry = ""
        while block:
            lines = (carry + decoder.decode(block)).split("\n")
            carry = lines.pop()
            for line in lines:
                yield from reader.line(line.rstrip("\r"))
            while len(carry) > PARAGRAPH_CHARS:  # a line with no end in sight: taken a piece at a time
                head, carry = _cut(carry)
                yield from reader.append(head)
            block = stream.read(BLOCK_BYTES)
        carry += decoder.decode(b"", final=True)
        if carry:
            yield from reader.line(carry.rstrip("\r"))
        yield from reader.flush()
    replaced = _Replacements.count - replaced_before
    if replaced:
        warnings.append(f"{replaced} byte sequences are not {encoding} and were replaced with U+FFFD")
