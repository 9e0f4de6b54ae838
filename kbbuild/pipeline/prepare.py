"""The parse worker's job: one file in, one ``PreparedFile`` out (parse -> clean -> chunk).

This is everything about a file that needs no state shared with other files, so it can run in any
process, in any order, and give the same result: the engine (``pipeline.workers``) runs it in a
pool of worker processes, and ``--workers 0`` runs it in the ingest's own process. What comes after
(duplicates across files, questions, embedding, writing) needs state and runs in the driver.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from kbbuild.clean.furniture import furniture_lines
from kbbuild.config import LimitsSettings, Settings
from kbbuild.errors import InputError, KbbuildError
from kbbuild.faults import crash_point
from kbbuild.pipeline.limits import out_of_memory_reason
from kbbuild.plugins import Registry, make_plugin_manager
from kbbuild.providers import Chunker, ParseContext
from kbbuild.records import PreparedFile, SourceFile


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
            provider = registry.named("embedders", settings.embed.provider)
            count_tokens = provider.load_token_counter(settings.embed.model, settings)
        chunker = registry.named("chunkers", settings.chunk.strategy)
        return cls(settings, registry, chunker, count_tokens, debug, limits)


def prepare(source: SourceFile, tools: PrepareTools, on_page: Callable[[int], None] | None = None) -> PreparedFile:
    """Parse, clean and chunk one file. Bad input and parser bugs become a failed PreparedFile with a
    reason; only kbbuild's own configuration errors (which would fail every file) propagate."""
    settings, registry = tools.settings, tools.registry
    parser = registry.parser_for(source.format, settings.parse.parsers)
    assert parser is not None  # discover() only returns supported formats
    seconds: dict[str, float] = {}
    crash_point(f"prepare {source.relpath}")  # tests kill a worker in the middle of a file here
    stage = "parse"
    started = time.perf_counter()
    try:
        document = parser.parse(source, ParseContext(settings, on_page or (lambda _page: None), registry))
        seconds["parse"], started, stage = time.perf_counter() - started, time.perf_counter(), "clean"
        for cleaner in registry.cleaners:
            document = cleaner.clean(document, settings)
        seconds["clean"], started, stage = time.perf_counter() - started, time.perf_counter(), "chunk"
        chunks = tools.chunker.chunk(document, settings, tools.count_tokens)
        seconds["chunk"] = time.perf_counter() - started
    except InputError as error:
        return PreparedFile(source=source, parser=parser.name, error=str(error))
    except KbbuildError:
        raise
    except MemoryError:
        return PreparedFile(source=source, parser=parser.name, error=out_of_memory_reason(tools.limits))
    except Exception as error:
        if tools.debug:
            raise
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        reason = f"internal error while {stage} ({parser.name}): {detail}"
        return PreparedFile(source=source, parser=parser.name, error=reason)
    return PreparedFile(
        source=source,
        parser=parser.name,
        chunks=tuple(chunks),
        pages=len(document.pages),
        pages_without_text=document.pages_without_text,
        pages_ocr=document.pages_ocr,
        warnings=document.warnings,
        cleaning=document.cleaning,
        furniture=tuple(furniture_lines(document)),
        seconds=seconds,
    )
