"""Chunk along the document's own structure: sections first, then paragraphs, then sentences.

A chunk does not span two sections, because a retrieved passage that starts in "Refund policy" and
ends in "Warranty" answers neither question well; the exception is a section too small to stand
alone (under ``min_tokens``), which joins the next one, heading included, and the chunk's heading
path is then the part both sections share. Each chunk carries its heading path so that the embedder
and the reader know what a terse paragraph is about. Tables are chunks of their own; a table over
budget is split by rows with its header rows repeated in every piece. A lead-in sentence ("The kit
contains:") stays with the list that follows it.

Budgets are counted with the embedding model's own tokenizer when the pipeline provides it
(``count``), since that is the window that truncates; the estimate in ``kbbuild.text.tokens`` is
the fallback for callers without a model.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from kbbuild.records import Chunk, Document, Element, ElementKind
from kbbuild.text.lines import is_cjk
from kbbuild.text.tokens import count_tokens, split_sentences

TokenCounter = Callable[[str], int]

_LIST_MARKER = re.compile(
    r"^\s*(?:[•●○▪■◦·\-–*]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)]|\(?[ivx]{1,4}[.)]|[①-⑳]|（[一二三四五六七八九十]+）)\s*"
)


def is_list_item(element: Element) -> bool:
    return element.kind is ElementKind.LIST_ITEM or bool(_LIST_MARKER.match(element.text))


def is_lead_in(text: str) -> bool:
    return text.rstrip().endswith((":", "："))


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
    """Text of a chunk being assembled, with the elements it came from and the heading path of each."""

    texts: list[str] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)
    paths: list[tuple[str, ...]] = field(default_factory=list)
    tokens: int = 0


def _join(texts: Iterable[str]) -> str:
    return "\n\n".join(texts)


def _common_path(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not paths:
        return ()
    common = paths[0]
    for path in paths[1:]:
        size = 0
        while size < min(len(common), len(path)) and common[size] == path[size]:
            size += 1
        common = common[:size]
    return common


_CLAUSE_END = re.compile(r"(?<=[，、：,:])(?!\d)")
_WORD_OR_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]\s*|[^\s\u3400-\u9fff\uf900-\ufaff]+\s*")


def _units(text: str) -> list[str]:
    """Words and CJK characters, each with the punctuation after it: a cut may fall between two
    units, so a piece never starts with a comma or ends inside a word."""
    units: list[str] = []
    for unit in _WORD_OR_CJK.findall(text):
        if units and not any(ch.isalnum() for ch in unit):
            units[-1] += unit
        else:
            units.append(unit)
    return units


def _hard_split(text: str, budget: int, count: TokenCounter) -> list[str]:
    """Last resort for a clause over budget: cut between words (or CJK characters), never inside."""
    pieces: list[str] = []
    current, tokens = "", 0
    for unit in _units(text):
        size = count(unit)
        if current and tokens + size > budget:
            pieces.append(current.strip())
            current, tokens = "", 0
        current += unit
        tokens += size
    if current.strip():
        pieces.append(current.strip())
    return pieces


# A text longer than this is cut into windows before a tokenizer or the word splitter sees it: one
# 200 MB line (a log, a dump) handed whole to the tokenizer took over 10 GB.
WINDOW_CHARS = 20_000


def text_windows(text: str, size: int = WINDOW_CHARS) -> Iterator[str]:
    """``text`` in pieces of at most ``size`` characters, cut at the last space or line break in the
    second half of each piece (CJK text, which has none, is cut between characters)."""
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = max(text.rfind(" ", start + size // 2, end), text.rfind("\n", start + size // 2, end))
            end = cut + 1 if cut > start else end
        yield text[start:end]
        start = end


def split_long_text(text: str, budget: int, overlap: int, count: TokenCounter = count_tokens) -> list[str]:
    """Pack sentences into pieces of at most ``budget`` tokens, repeating ``overlap`` tokens of
    trailing sentences at the start of the next piece so a fact on a boundary stays retrievable.
    Token counts of sentences are added up (subword tokenizers split at spaces and punctuation,
    so the count of a join is the sum of the parts)."""
    sentences: list[tuple[str, int]] = []
    for sentence in split_sentences(text):
        size = count(sentence)
        if size <= budget:
            sentences.append((sentence, size))
            continue
        for clause in _CLAUSE_END.split(sentence):  # a long sentence breaks at commas first
            if not clause:
                continue
            clause_size = count(clause)
            if clause_size > budget:
                sentences.extend((part, count(part)) for part in _hard_split(clause, budget, count))
            else:
                sentences.append((clause, clause_size))
    pieces: list[list[tuple[str, int]]] = [[]]
    for sentence, size in sentences:
        current = pieces[-1]
        if current and sum(s for _, s in current) + size > budget:
            carried: list[tuple[str, int]] = []
            carried_tokens = 0
            for previous in reversed(current):
                carried_tokens += previous[1]
                if carried_tokens > overlap:
                    break
                carried.insert(0, previous)
            if sum(s for _, s in carried) + size > budget:
                carried = []
            pieces.append([*carried, (sentence, size)])
        else:
            current.append((sentence, size))
    return [_glue([s for s, _ in piece]) for piece in pieces if piece]


def _glue(sentences: list[str]) -> str:
    out = ""
    for sentence in sentences:
        if out and not (is_cjk(out[-1]) or is_cjk(sentence[0])):
            out += " "
        out += sentence
    return out


def split_table(markdown: str, caption: str | None, budget: int, count: TokenCounter) -> list[str]:
    """A Markdown table over budget as pieces of whole rows, each with the caption and the header
    rows (everything down to the ``|---|`` line) repeated, so every piece can be read alone.

    A header over four budgets is not repeated: it becomes a piece of its own (over budget, as any
    single over-long row is). No real table needs that, and repeating it made a hostile table (a
    5,000-cell first row over 20,000 one-cell rows) 40 KB times 20,000 pieces. A header merely over
    one budget is still repeated: the row under it means nothing without it."""
    lines = markdown.split("\n")
    separator = next((i for i, line in enumerate(lines) if set(line.replace("|", "").strip()) <= {"-", ":", " "}), None)
    head = lines[: separator + 1] if separator is not None else []
    rows = lines[separator + 1 :] if separator is not None else lines
    prefix = [caption] if caption else []
    fixed = count("\n".join(prefix + head))
    if head and fixed > 4 * budget:
        return ["\n".join(prefix + head), *split_table("\n".join(rows), None, budget, count)]
    pieces: list[list[str]] = []
    current: list[str] = []
    tokens = fixed
    for row in rows:
        size = count(row)
        if current and tokens + size > budget:
            pieces.append(current)
            current, tokens = [], fixed
        current.append(row)
        tokens += size
    if current:
        pieces.append(current)
    return ["\n".join(prefix + head + piece) for piece in pieces]


IDENTITY_SEPARATOR = " · "


class StructureChunking:
    """One pass over the elements in reading order; state is the heading stack and the open piece."""

    def __init__(
        self,
        document: Document,
        budget: int,
        overlap: int,
        count: TokenCounter | None = None,
        min_tokens: int = 0,
        reserve_path: bool = False,
    ) -> None:
        self.document = document
        self.budget = budget
        self.overlap = overlap
        self.count = lru_cache(maxsize=65536)(count or count_tokens)
        self.min_tokens = min_tokens
        self.reserve_path = reserve_path
        self.title = document.title
        self.document_line = IDENTITY_SEPARATOR.join(document.identity)
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

    def _room(self) -> int:
        """The budget left for text once the document line and the heading path, embedded in front
        of it, are paid for."""
        spent = self.count(self.document_line) + 1 if self.document_line else 0
        if self.reserve_path:
            path = " > ".join(self._path())
            spent += self.count(path) + 1 if path else 0
        return max(self.budget - spent, self.budget // 2)

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
            self._open_section(element)
            return
        if len(element.text) > WINDOW_CHARS and kind is not ElementKind.TABLE:
            self._flush()
            for window in text_windows(element.text):
                for text in split_long_text(window, self._room(), self.overlap, self.count):
                    self._emit(text, [element], self.count(text))
            return
        tokens = self.count(element.text)
        if kind is ElementKind.TABLE:
            self._flush()
            caption = element.meta.get("caption")
            caption = caption if isinstance(caption, str) and caption else None
            text = f"{caption}\n{element.text}" if caption else element.text
            if self.count(text) <= self._room():
                self._emit(text, [element], self.count(text))
            else:
                for piece in split_table(element.text, caption, self._room(), self.count):
                    self._emit(piece, [element], self.count(piece))
            return
        if tokens > self._room():
            self._flush()
            for text in split_long_text(element.text, self._room(), self.overlap, self.count):
                self._emit(text, [element], self.count(text))
            return
        if self.piece.texts and self.piece.tokens + tokens > self._room():
            carried = self._lead_in_to_carry(element)
            self._flush()
            if carried is not None:
                self._add(carried)
        self._add(element)

    def _lead_in_to_carry(self, element: Element) -> Element | None:
        """A list is read with the sentence that introduces it: when the budget breaks between
        the two, the lead-in moves to the new piece instead of ending the old one."""
        piece = self.piece
        if len(piece.elements) < 2 or not is_list_item(element) or not is_lead_in(piece.texts[-1]):
            return None
        lead_in = piece.elements.pop()
        piece.texts.pop()
        piece.paths.pop()
        piece.tokens -= self.count(lead_in.text)
        return lead_in

    def _add(self, element: Element, text: str | None = None) -> None:
        text = element.text if text is None else text
        self.piece.texts.append(text)
        self.piece.elements.append(element)
        self.piece.paths.append(self._path())
        self.piece.tokens += self.count(text)

    def _open_section(self, element: Element) -> None:
        level = element.level or 1
        if self.piece.texts and self.piece.tokens < self.min_tokens:
            # The section so far is too small to stand alone: it joins the next one, whose
            # heading goes into the text (the chunk's path becomes what the two share).
            for heading in self.headings:
                heading.used = True
            before = self._path()
            while self.headings and self.headings[-1].level >= level:
                self.headings.pop()
            self.headings.append(_Heading(element, level, used=True))
            # Headings the shared path will no longer carry are written into the text at _flush;
            # their tokens are reserved now so the finished chunk stays within its budget.
            dropped = before[len(_common_path([before, self._path()])) :]
            self.piece.tokens += sum(self.count(text) for text in dropped)
            self._add(element)
            return
        self._flush()
        while self.headings and self.headings[-1].level >= level:
            self._pop_heading()
        self.headings.append(_Heading(element, level))

    def _pop_heading(self) -> None:
        heading = self.headings[-1]
        if not heading.used and not heading.element.meta.get("carried"):
            # A heading with no body under it still says something; keep it rather than lose it.
            # (One carried into a window of a long file was kept in the window it came from.)
            self.headings.pop()
            self._emit(heading.text, [heading.element], self.count(heading.text))
            return
        self.headings.pop()

    def _flush(self) -> None:
        if self.piece.texts:
            path = _common_path(self.piece.paths)
            text = _join(self._texts_with_headings(path))
            self._emit(text, self.piece.elements, self.count(text), path)
        self.piece = _Piece()

    def _texts_with_headings(self, common: tuple[str, ...]) -> list[str]:
        """The piece's texts with every heading that is not in the chunk's (shared) path written in
        where its section starts: a tiny section merged into the next must not lose its heading."""
        texts: list[str] = []
        shown = common
        for text, path, element in zip(self.piece.texts, self.piece.paths, self.piece.elements, strict=True):
            start = max(len(_common_path([shown, path])), len(common))
            missing = list(path[start:])
            if element.kind is ElementKind.HEADING and missing and missing[-1] == element.text:
                missing.pop()
            texts.extend(missing)
            texts.append(text)
            shown = path
        return texts

    def _path(self) -> tuple[str, ...]:
        path = [h.text for h in self.headings]
        if self.title and (not path or path[0] != self.title):
            path.insert(0, self.title)
        return tuple(path)

    def _emit(self, text: str, elements: list[Element], tokens: int, path: tuple[str, ...] | None = None) -> None:
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
                heading_path=self._path() if path is None else path,
                pages=tuple(pages),
                kinds=tuple(kinds),
                n_tokens=tokens,
                document=self.document_line,
            )
        )
