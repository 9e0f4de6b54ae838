"""The parse worker's job: one file in, its ``PreparedFile`` out (parse -> clean -> chunk); a file
too large to hold whole comes out in parts, one per window of it.

This is everything about a file that needs no state shared with other files, so it can run in any
process, in any order, and give the same result: the engine (``pipeline.pool``) runs it in a
pool of worker processes, and ``--workers 0`` runs it in the ingest's own process. What comes after
(duplicates across files, questions, embedding, writing) needs state and runs in the driver.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from kbbuild.clean.furniture import furniture_lines
from kbbuild.config import DEFAULT_EMBED_MODEL, LimitsSettings, Settings
from kbbuild.errors import InputError, KbbuildError
from kbbuild.faults import crash_point
from kbbuild.parse.dates import document_date
from kbbuild.pipeline.limits import out_of_memory_reason
from kbbuild.plugins import Registry, make_plugin_manager
from kbbuild.providers import Chunker, ParseContext
from kbbuild.records import Chunk, CleaningCounts, Document, PreparedFile, SourceFile


@dataclass
class PrepareTools:
    """What a worker loads once and uses for every file: settings, providers, the token counter."""

    settings: Settings
    registry: Registry
    chunker: Chunker
    count_tokens: Callable[[str], int] | None
    debug: bool = False
    limits: LimitsSettings | None = None  # set in a worker process, whose memory is capped by them

    @classmethod
    def load(
        cls,
        settings: Settings,
        extra_plugins: tuple[object, ...] = (),
        count_tokens=None,
        debug: bool = False,
        limits: LimitsSettings | None = None,
    ) -> PrepareTools:
        registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins, extra_plugins))
        if count_tokens is None:
            # Ingest hands workers settled settings; a caller with "auto" gets what a new KB would.
            model = DEFAULT_EMBED_MODEL if settings.embed.model == "auto" else settings.embed.model
            provider = registry.embedder_for(settings.embed.provider, model)
            count_tokens = provider.load_token_counter(model, settings)
        chunker = registry.named("chunkers", settings.chunk.strategy)
        return cls(settings, registry, chunker, count_tokens, debug, limits)


class _Numbering:
    """Chunk positions and ids across the windows of one file, as if it had been chunked whole: the
    chunker numbers each window from 0, and counts repeats of a text (part of the id) per window."""

    def __init__(self) -> None:
        self.next_index = 0
        self.seen: Counter[bytes] = Counter()  # digests, not texts: a 200 MB file must not be kept

    def renumber(self, chunks: list[Chunk], first_window: bool) -> list[Chunk]:
        renumbered = []
        for chunk in chunks:
            key = hashlib.blake2b(chunk.text.encode(), digest_size=16).digest()
            occurrence = self.seen[key]
            self.seen[key] += 1
            if not first_window:
                update = {"id": Chunk.make_id(chunk.source, chunk.text, occurrence), "chunk_index": self.next_index}
                chunk = chunk.model_copy(update=update)
            renumbered.append(chunk)
            self.next_index += 1
        return renumbered


@dataclass
class _Totals:
    """What the final record says of the whole file, summed over its windows."""

    pages: int = 0
    pages_without_text: list[int] = field(default_factory=list)
    pages_ocr: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cleaning: CleaningCounts = field(default_factory=CleaningCounts)
    furniture: list[str] = field(default_factory=list)
    seconds: Counter[str] = field(default_factory=Counter)
    document_date: datetime | None = None

    def add(self, document: Document) -> None:
        self.document_date = self.document_date or document_date(document)
        self.pages += len(document.pages)
        self.pages_without_text.extend(document.pages_without_text)
        self.pages_ocr.extend(document.pages_ocr)
        self.warnings.extend(w for w in document.warnings if w not in self.warnings)
        self.cleaning += document.cleaning
        self.furniture.extend(line for line in furniture_lines(document) if line not in self.furniture)


def _timed(windows: Iterator[Document], seconds: Counter[str]) -> Iterator[Document]:
    while True:
        started = time.perf_counter()
        try:
            document = next(windows)
        except StopIteration:
            return
        finally:
            seconds["parse"] += time.perf_counter() - started
        yield document


def _who(provider) -> str:
    """A provider as a failure names it: its kind, its name and the package it comes from, so that
    a plugin's bug is reported as the plugin's, not as kbbuild's."""
    return f"{provider.kind} '{provider.name}' from {type(provider).__module__.split('.')[0]}"


def _native_out_of_memory(error: BaseException) -> bool:
    """An allocation that failed in native code, raised as the library's own error type: ONNX
    Runtime's "std::bad_alloc" (rapidocr wraps it in one more exception of its own)."""
    while error is not None:
        if "bad_alloc" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def prepare_parts(
    source: SourceFile, tools: PrepareTools, on_page: Callable[[int], None] | None = None
) -> Iterator[PreparedFile]:
    """Parse, clean and chunk one file, window by window (``Parser.parse_windows``): the chunks of
    every window but the last leave as parts (``part=True``) as soon as they exist, and the last
    PreparedFile completes the file (most files have one window, so that is all there is). Bad input
    and parser bugs end the file with a failed PreparedFile and a reason (parts already sent are
    then void); only kbbuild's own configuration errors (which would fail every file) propagate."""
    settings, registry = tools.settings, tools.registry
    parser = registry.parser_for(source.format, settings.parse.parsers)
    assert parser is not None  # discover() only returns supported formats
    crash_point(f"prepare {source.relpath}")  # tests kill a worker in the middle of a file here
    totals = _Totals()
    numbering = _Numbering()
    held: list[Chunk] | None = None  # the latest window's chunks: the last one goes out with the record
    identity: tuple[str, ...] = ()
    stage, running = "parse", _who(parser)  # running: the provider to name if it fails
    try:
        context = ParseContext(settings, on_page or (lambda _page: None), registry)
        for number, document in enumerate(_timed(parser.parse_windows(source, context), totals.seconds)):
            if held is not None:
                yield PreparedFile(source=source, parser=parser.name, chunks=tuple(held), part=True)
                crash_point(f"part {number} of {source.relpath}")
            stage, started = "clean", time.perf_counter()
            for cleaner in registry.cleaners:
                running = _who(cleaner)
                document = cleaner.clean(document, settings)
            if number == 0:
                identity = document.identity  # judged from the file's opening: every window carries it
            else:
                document = document.model_copy(update={"identity": identity})
            totals.seconds["clean"] += time.perf_counter() - started
            stage, started, running = "chunk", time.perf_counter(), _who(tools.chunker)
            chunks = tools.chunker.chunk(document, settings, tools.count_tokens)
            held = numbering.renumber(chunks, first_window=number == 0)
            totals.seconds["chunk"] += time.perf_counter() - started
            totals.add(document)
            stage, running = "parse", _who(parser)
    except InputError as error:
        yield PreparedFile(source=source, parser=parser.name, error=str(error))
        return
    except KbbuildError:
        raise
    except MemoryError:
        yield PreparedFile(source=source, parser=parser.name, error=out_of_memory_reason(tools.limits))
        return
    except Exception as error:
        if _native_out_of_memory(error):  # C++ code under the worker's address-space cap (ONNX Runtime)
            yield PreparedFile(source=source, parser=parser.name, error=out_of_memory_reason(tools.limits))
            return
        if tools.debug:
            raise
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        reason = f"internal error while {stage}, in {running}: {detail}"
        yield PreparedFile(source=source, parser=parser.name, error=reason)
        return
    yield PreparedFile(
        source=source,
        parser=parser.name,
        chunks=tuple(held or ()),
        pages=totals.pages,
        pages_without_text=tuple(totals.pages_without_text),
        pages_ocr=tuple(totals.pages_ocr),
        warnings=tuple(totals.warnings),
        cleaning=totals.cleaning,
        furniture=tuple(totals.furniture),
        seconds=dict(totals.seconds),
        document_date=totals.document_date,
    )


def prepare(source: SourceFile, tools: PrepareTools, on_page: Callable[[int], None] | None = None) -> PreparedFile:
    """The whole file as one PreparedFile, its parts joined (for callers that hold a file whole)."""
    chunks: list[Chunk] = []
    for prepared in prepare_parts(source, tools, on_page):
        if prepared.part:
            chunks.extend(prepared.chunks)
            continue
        if prepared.error is not None:
            return prepared
        return prepared.model_copy(update={"chunks": (*chunks, *prepared.chunks)})
    raise AssertionError("prepare_parts ends with a complete PreparedFile")
