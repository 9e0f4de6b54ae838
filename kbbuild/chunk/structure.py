"""Chunk along the document's own structure: sections first, then paragraphs, then sentences.

A chunk never spans two sections, because a retrieved passage that starts in "Refund policy" and
ends in "Warranty" answers neither question well; each chunk carries its heading path so that the
embedder and the reader know what a terse paragraph is about. Tables are chunks of their own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from kbbuild.records import Chunk, Document, Element, ElementKind
from kbbuild.text.lines import is_cjk
from kbbuild.text.tokens import count_tokens, split_sentences


@dataclass
class _Heading:
    element: Element
    level: int
    used: bool = False

    @property
    def text(self) -> str:
        return self.element.text


@dataclass
class _Piece:
    """Text of a chunk being assembled, with the elements it came from."""

    texts: list[str] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)
    tokens: int = 0


def _join(texts: Iterable[str]) -> str:
    return "\n\n".join(texts)


_WORD_OR_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|\S+\s*")


def _hard_split(text: str, budget: int) -> list[str]:
    """Last resort for a 'sentence' over budget: cut between words (or CJK characters), never inside."""
    pieces: list[str] = []
    current = ""
    for unit in _WORD_OR_CJK.findall(text):
        if current and count_tokens(current + unit) > budget:
            pieces.append(current.strip())
            current = ""
        current += unit
    if current.strip():
        pieces.append(current.strip())
    return pieces


def split_long_text(text: str, budget: int, overlap: int) -> list[str]:
    """Pack sentences into pieces of at most ``budget`` tokens, repeating ``overlap`` tokens of
    trailing sentences at the start of the next piece so a fact on a boundary stays retrievable."""
    sentences: list[str] = []
    for sentence in split_sentences(text):
        sentences.extend(_hard_split(sentence, budget) if count_tokens(sentence) > budget else [sentence])
    pieces: list[list[str]] = [[]]
    for sentence in sentences:
        current = pieces[-1]
        if current and count_tokens(_glue([*current, sentence])) > budget:
            carried: list[str] = []
            carried_tokens = 0
            for previous in reversed(current):
                carried_tokens += count_tokens(previous)
                if carried_tokens > overlap:
                    break
                carried.insert(0, previous)
            if count_tokens(_glue([*carried, sentence])) > budget:
                carried = []
            pieces.append([*carried, sentence])
        else:
            current.append(sentence)
    return [_glue(piece) for piece in pieces if piece]


def _glue(sentences: list[str]) -> str:
    out = ""
    for sentence in sentences:
        if out and not (is_cjk(out[-1]) or is_cjk(sentence[0])):
            out += " "
        out += sentence
    return out


class StructureChunking:
    """One pass over the elements in reading order; state is the heading stack and the open piece."""

    def __init__(self, document: Document, budget: int, overlap: int) -> None:
        self.document = document
        self.budget = budget
        self.overlap = overlap
        self.title = document.title
        self.headings: list[_Heading] = []
        self.piece = _Piece()
        self.chunks: list[Chunk] = []
        self._occurrences: Counter[str] = Counter()

    def run(self) -> list[Chunk]:
        for element in self.document.elements:
            self._take(element)
        self._flush()
        while self.headings:
            self._pop_heading()
        return self.chunks

    def _take(self, element: Element) -> None:
        kind = element.kind
        if kind.is_furniture or not element.text.strip():
            return  # furniture is not content; a figure without OCR'd text has nothing to index
        if kind is ElementKind.TITLE:
            self._flush()
            if self.title is None:
                self.title = element.text
            return
        if kind is ElementKind.HEADING:
            self._flush()
            level = element.level or 1
            while self.headings and self.headings[-1].level >= level:
                self._pop_heading()
            self.headings.append(_Heading(element, level))
            return
        tokens = count_tokens(element.text)
        if kind is ElementKind.TABLE:
            self._flush()
            caption = element.meta.get("caption")
            text = f"{caption}\n{element.text}" if isinstance(caption, str) and caption else element.text
            self._emit(text, [element], count_tokens(text))
            return
        if tokens > self.budget:
            self._flush()
            for text in split_long_text(element.text, self.budget, self.overlap):
                self._emit(text, [element], count_tokens(text))
            return
        if self.piece.texts and self.piece.tokens + tokens > self.budget:
            self._flush()
        self.piece.texts.append(element.text)
        self.piece.elements.append(element)
        self.piece.tokens += tokens

    def _pop_heading(self) -> None:
        heading = self.headings[-1]
        if not heading.used:
            # A heading with no body under it still says something; keep it rather than lose it.
            self.headings.pop()
            self._emit(heading.text, [heading.element], count_tokens(heading.text))
            return
        self.headings.pop()

    def _flush(self) -> None:
        if self.piece.texts:
            text = _join(self.piece.texts)
            self._emit(text, self.piece.elements, count_tokens(text))
        self.piece = _Piece()

    def _path(self) -> tuple[str, ...]:
        path = [h.text for h in self.headings]
        if self.title and (not path or path[0] != self.title):
            path.insert(0, self.title)
        return tuple(path)

    def _emit(self, text: str, elements: list[Element], tokens: int) -> None:
        for heading in self.headings:
            heading.used = True
        source = self.document.source
        occurrence = self._occurrences[text]
        self._occurrences[text] += 1
        pages = sorted({e.page for e in elements if e.page is not None})
        kinds: list[ElementKind] = []
        for element in elements:
            if element.kind not in kinds:
                kinds.append(element.kind)
        self.chunks.append(
            Chunk(
                id=Chunk.make_id(source.relpath, text, occurrence),
                source=source.relpath,
                source_sha256=source.sha256,
                chunk_index=len(self.chunks),
                text=text,
                heading_path=self._path(),
                pages=tuple(pages),
                kinds=tuple(kinds),
                n_tokens=tokens,
            )
        )
