"""The provider classes plugins implement: one small class per extension point.

Hooks in ``kbbuild.hookspecs`` only *register* providers (the way datasette and llm plugins register
models and renderers); the pipeline decides when to call them. Each provider has a ``name`` (how
users select it in flags and ``kbbuild.toml``) and a ``version`` (recorded in every KB manifest, so a
KB version says exactly which code built it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from kbbuild.records import Chunk, Document, EmbeddingModelInfo, LayoutRegion, OcrLine, SourceFile

if TYPE_CHECKING:
    import numpy as np

    from kbbuild.config import OcrSettings, Settings
    from kbbuild.plugins import Registry
    from kbbuild.store.kb import KB


class Provider(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    kind: ClassVar[str]


@dataclass
class ParseContext:
    """What a parser may use besides the file: settings and a way to report progress per page."""

    settings: Settings
    on_page: Callable[[int], None] = field(default=lambda page: None)
    registry: Registry | None = None  # to find OCR/layout/table providers; None = parse without them


class Parser(Provider):
    """Turns one file of the formats it claims into a Document.

    ``formats`` are detected formats (``pdf``, ``docx``, ...), decided from file content. When several
    parsers claim a format, the highest ``priority`` wins unless the user pins one by name. A parser
    raises ``kbbuild.errors.InputError`` with a human-readable reason for bad input; any other
    exception is reported as a parser bug for that file, and the batch goes on either way.
    """

    kind = "parser"
    formats: ClassVar[frozenset[str]]
    priority: ClassVar[int] = 0

    def unavailable_reason(self) -> str | None:
        """None when the parser can run here; otherwise what is missing, for ``kbbuild doctor``."""
        return None

    @abstractmethod
    def parse(self, source: SourceFile, context: ParseContext) -> Document: ...

    def parse_windows(self, source: SourceFile, context: ParseContext) -> Iterator[Document]:
        """The file as consecutive Documents (windows of its elements in reading order), for files
        too large to hold whole: each is cleaned and chunked, and its chunks leave the worker, before
        the next is read (see ``kbbuild.parse.windows``). By default the whole file is one window."""
        yield self.parse(source, context)


class Cleaner(Provider):
    """A Document -> Document transform. Cleaners run in ascending ``order``; each returns a new
    Document (records are frozen) and may report what it did through ``Document.warnings``."""

    kind = "cleaner"
    order: ClassVar[int] = 100

    @abstractmethod
    def clean(self, document: Document, settings: Settings) -> Document: ...


class Chunker(Provider):
    """Splits a cleaned Document into Chunks. Ids must be stable (see ``Chunk.make_id``)."""

    kind = "chunker"

    @abstractmethod
    def chunk(self, document: Document, settings: Settings, count: Callable[[str], int] | None = None) -> list[Chunk]:
        """``count`` gives a text's token count with the embedding model's tokenizer (no special
        tokens) when the pipeline has a model; budgets should be measured with it."""


class Enricher(Provider):
    """Adds information to chunks before they are embedded (synthetic questions, keywords, ...).
    Enrichers run in ascending ``order`` and must return the chunks in the same order."""

    kind = "enricher"
    order: ClassVar[int] = 100

    @abstractmethod
    def enrich(self, chunks: list[Chunk], settings: Settings) -> list[Chunk]: ...


class Questioner(ABC):
    """A loaded question generator: raw candidate questions per passage, in the passage's language.
    kbbuild filters them (Doc2Query--); ``failures`` counts passages that got none because of an error."""

    failures: int = 0
    # Languages (``prompts.language`` codes) the model writes usable questions in; None = any. Chunks in
    # other languages are not sent to it: their questions would all be filtered away, at full cost.
    languages: frozenset[str] | None = None

    @abstractmethod
    def questions(self, passages: Sequence[str], n: int) -> list[list[str]]: ...


class QuestionGenerator(Provider):
    """Knows how to load one kind of question generator; ``[questions] generator = "<name>"``."""

    kind = "question_generator"

    def unavailable_reason(self, settings: Settings) -> str | None:
        return None

    @abstractmethod
    def load(self, settings: Settings) -> Questioner: ...


class Embedder(ABC):
    """A loaded embedding model. Loading is slow, so the pipeline loads once per process."""

    info: EmbeddingModelInfo

    @abstractmethod
    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for passages, shape (len(texts), info.dim), float32."""

    @abstractmethod
    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for queries (some models prepend an instruction to queries only)."""

    def token_counter(self) -> Callable[[str], int] | None:
        """Tokens of one text without the model's special tokens, for chunk budgets; None when
        the model cannot tell (chunkers then estimate)."""
        return None

    def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        """Tokens each text has for this model, or None when the model cannot tell. Text past
        ``info.max_length`` tokens is cut off by the model and never reaches the vector."""
        return None


class EmbedderProvider(Provider):
    """Knows how to load models of one family/library. ``load`` is called at most once per model
    per process and must never run at import time."""

    kind = "embedder"
    catch_all: ClassVar[bool] = False  # takes any model no other provider claims ([embed] provider = "auto")

    def claims(self, model: str) -> bool:
        """Whether ``model`` is one of this provider's own models, so that ``[embed] provider = "auto"``
        sends it here. A catch-all provider (FlagEmbedding: any hub name or folder) claims the rest."""
        return self.catch_all

    @abstractmethod
    def describe(self, model: str) -> str:
        """The canonical name ``model`` (a hub name, alias or local folder) resolves to, without
        loading anything; used to refuse a mismatched query before paying for a model load."""

    @abstractmethod
    def load(self, model: str, settings: Settings) -> Embedder: ...

    def load_token_counter(self, model: str, settings: Settings) -> Callable[[str], int] | None:
        """The model's token counter without the model: parse workers cut chunks to the model's token
        budget, and loading a 2 GB encoder into every worker just for its tokenizer would be waste.
        The default loads the whole model; providers override it when they can do better."""
        return self.load(model, settings).token_counter()

    def default_precision(self, model: str, settings: Settings) -> str:
        """The precision ``[embed] precision = "auto"`` gives a new KB ("float" or "int8"), decided
        without loading the model: ingest must know it before planning, since a KB's vectors all
        share one. Providers without a quantised engine keep "float"."""
        return "float"


class Exporter(Provider):
    """Writes one KB version to files in a format other tools read."""

    kind = "exporter"
    format: ClassVar[str]

    @abstractmethod
    def export(self, kb: KB, version: int | None, out: Path, *, vectors: bool = False) -> int:
        """Write the version (None = current) of the KB collection ``kb`` to ``out`` (a file, or a
        folder for formats with one file per document), with embeddings when ``vectors`` and the
        format carries them; return the number of records written."""


class _ModelProvider(Provider):
    """A provider backed by model files: it can say whether it can run here, and why not."""

    @abstractmethod
    def unavailable_reason(self) -> str | None:
        """None when usable; otherwise what is missing (package, model files), for ``kbbuild doctor``."""

    def device(self) -> str:
        return "cpu"

    def configure(self, settings: OcrSettings) -> _ModelProvider:
        """A copy of the provider bound to the user's settings (model source, folders); the
        registered instance itself stays settings-free."""
        return self


class OcrEngine(_ModelProvider):
    """Reads text lines from a page image (BGR uint8 array). Loads its models lazily, once."""

    kind = "ocr_engine"

    @abstractmethod
    def recognize(self, image: np.ndarray) -> list[OcrLine]: ...


class LayoutModel(_ModelProvider):
    """Finds typed regions (title, text, table, figure, ...) on a page image."""

    kind = "layout_model"

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[LayoutRegion]: ...


class TableModel(_ModelProvider):
    """Recovers a table's structure from its image crop and the OCR lines inside it (crop pixels)."""

    kind = "table_model"

    @abstractmethod
    def recognize(self, image: np.ndarray, lines: list[OcrLine]) -> str:
        """The table as HTML (``<table>`` with ``<tr>``/``<td>``, header cells as ``<th>`` when known)."""
