"""``kbbuild.ingest``: one run of the batch job, producing one new KB version.

Each file goes through parse -> clean -> chunk -> enrich -> embed on its own, so a bad file costs
only itself: its failure is recorded with a reason and the batch goes on. Files whose content hash
and settings are unchanged since the previous version are not reprocessed; their rows stay.
"""

from __future__ import annotations

import time
import traceback
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pluggy
from tqdm import tqdm

from kbbuild.config import Settings
from kbbuild.errors import ExitCode, InputError, KbbuildError
from kbbuild.pipeline.discover import discover
from kbbuild.plugins import Registry, kbbuild_version, make_plugin_manager
from kbbuild.providers import Embedder, ParseContext
from kbbuild.records import (
    FileRecord,
    FileStatus,
    IngestReport,
    Manifest,
    SourceFile,
    VersionCounts,
)
from kbbuild.store.kb import KB
from kbbuild.store.schema import CHUNKS_TABLE, to_rows
from kbbuild.store.writer import KBWriter


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start


class _Run:
    """State of one ingest run; ``ingest()`` below is the entry point."""

    def __init__(self, registry: Registry, settings: Settings, pm: pluggy.PluginManager, debug: bool) -> None:
        self.registry = registry
        self.settings = settings
        self.pm = pm
        self.debug = debug
        self.timer = _Timer()
        self.chunker = registry.named("chunkers", settings.chunk.strategy)
        self.embed_provider = registry.named("embedders", settings.embed.provider)
        self._embedder: Embedder | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self.timer.stage("load_model"):
                self._embedder = self.embed_provider.load(self.settings.embed.model, self.settings)
        return self._embedder

    def process(self, source: SourceFile, writer: KBWriter, bar: tqdm) -> FileRecord:
        parser = self.registry.parser_for(source.format, self.settings.parse.parsers)
        assert parser is not None  # discover() only returns supported formats
        pages_done = 0

        def on_page(_page: int) -> None:
            nonlocal pages_done
            pages_done += 1
            bar.set_postfix_str(f"{source.relpath[-40:]} p.{pages_done}", refresh=False)

        try:
            with self.timer.stage("parse"):
                document = parser.parse(source, ParseContext(self.settings, on_page))
            with self.timer.stage("clean"):
                for cleaner in self.registry.cleaners:
                    document = cleaner.clean(document, self.settings)
            with self.timer.stage("chunk"):
                chunks = self.chunker.chunk(document, self.settings)
            with self.timer.stage("enrich"):
                for enricher in self.registry.enrichers:
                    chunks = enricher.enrich(chunks, self.settings)
            texts = [c.embedding_text(self.settings.chunk.embed_heading_path) for c in chunks]
            embedder = self.embedder
            with self.timer.stage("embed"):
                vectors = embedder.embed_documents(texts)
            with self.timer.stage("store"):
                writer.add(to_rows(chunks, vectors, parser.name, writer.version))
        except InputError as error:
            return self._failure(source, parser.name, str(error))
        except KbbuildError:
            raise
        except Exception as error:
            if self.debug:
                raise
            detail = traceback.format_exception_only(type(error), error)[-1].strip()
            return self._failure(source, parser.name, f"internal error in {parser.name}: {detail}")
        return FileRecord(
            relpath=source.relpath,
            sha256=source.sha256,
            size=source.size,
            format=source.format,
            status=FileStatus.INGESTED,
            parser=parser.name,
            pages=len(document.pages),
            pages_without_text=list(document.pages_without_text),
            chunks=len(chunks),
            warnings=list(document.warnings),
        )

    @staticmethod
    def _failure(source: SourceFile, parser: str, reason: str) -> FileRecord:
        return FileRecord(
            relpath=source.relpath,
            sha256=source.sha256,
            size=source.size,
            format=source.format,
            status=FileStatus.FAILED,
            parser=parser,
            error=reason,
        )


def _unchanged(source: SourceFile, previous: dict[str, FileRecord]) -> FileRecord | None:
    old = previous.get(source.relpath)
    if old and old.sha256 == source.sha256 and old.status in (FileStatus.INGESTED, FileStatus.UNCHANGED):
        return old.model_copy(update={"status": FileStatus.UNCHANGED, "warnings": []})
    return None


def ingest(
    input_path: str | Path,
    kb_path: str | Path,
    settings: Settings | None = None,
    *,
    full: bool = False,
    debug: bool = False,
    extra_plugins: tuple[object, ...] = (),
) -> IngestReport:
    """Ingest a folder (or one file) into the KB at ``kb_path`` as a new KB version."""
    started = time.perf_counter()
    settings = settings or Settings()
    input_path = Path(input_path)
    if not input_path.exists():
        raise InputError(f"input path does not exist: {input_path}")
    pm = make_plugin_manager(settings.plugins, extra_plugins)
    registry = Registry.from_plugin_manager(pm)
    run = _Run(registry, settings, pm, debug)
    kb = KB.open_or_create(kb_path)
    with kb.write_lock():
        previous = kb.latest_manifest()
        with run.timer.stage("discover"):
            found = discover(input_path, settings, registry.supported_formats())
        notes: list[str] = []
        fingerprint = settings.fingerprint()
        rebuild = full or previous is None or previous.config_fingerprint != fingerprint
        if previous is not None and rebuild:
            notes.append(
                "--full: every file is processed again"
                if full
                else "parse/chunk/embedding settings changed since the last version: every file is processed again"
            )
        previous_files = {} if (previous is None or rebuild) else {f.relpath: f for f in previous.files}

        records: list[FileRecord] = list(found.failures)
        todo: list[SourceFile] = []
        for source in found.sources:
            kept = _unchanged(source, previous_files)
            if kept:
                records.append(kept)
            else:
                todo.append(source)

        if previous is None and not todo:
            return _nothing_to_commit(kb, input_path, found, records, started)
        embedding = run.embedder.info if todo else previous.embedding
        writer = KBWriter(kb, previous, embedding, rebuild)
        notes.extend(writer.notes)
        bar = tqdm(
            total=len(todo),
            unit="file",
            desc="ingest",
            disable=not settings.ingest.progress,
            dynamic_ncols=True,
        )
        processed: list[FileRecord] = []
        with bar:
            for source in todo:
                processed.append(run.process(source, writer, bar))
                bar.update(1)
        records.extend(processed)

        present = {s.relpath for s in found.sources} | {f.relpath for f in found.failures}
        removed = [
            FileRecord(
                relpath=old.relpath,
                sha256=old.sha256,
                size=old.size,
                format=old.format,
                status=FileStatus.REMOVED,
                parser=old.parser,
            )
            for old in previous_files.values()
            if old.relpath not in present and old.status is not FileStatus.REMOVED
        ]
        records.extend(removed)
        with run.timer.stage("store"):
            writer.flush()
            reprocessed = [r.relpath for r in processed if r.status is FileStatus.INGESTED]
            writer.remove_older_rows(reprocessed + [r.relpath for r in removed])
            table_version = writer.table_version()
            total_rows = writer.total_rows()

        failed = [r for r in records if r.status is FileStatus.FAILED]
        for record in failed:
            if record.relpath in previous_files and previous_files[record.relpath].chunks:
                notes.append(f"{record.relpath}: failed this time; its rows from the previous version are kept")
        records.sort(key=lambda r: r.relpath)
        counts = VersionCounts(
            files_seen=len(found.sources) + len(found.failures),
            files_ingested=sum(r.status is FileStatus.INGESTED for r in records),
            files_unchanged=sum(r.status is FileStatus.UNCHANGED for r in records),
            files_failed=len(failed),
            files_removed=len(removed),
            pages=sum(r.pages for r in processed),
            pages_without_text=sum(len(r.pages_without_text) for r in processed),
            chunks_added=writer.rows_added,
            chunks_removed=writer.rows_removed,
            chunks_total=total_rows,
        )
        nothing_worked = failed and not counts.files_ingested and not counts.files_unchanged and not removed
        no_input = not found.sources and not found.failures
        if no_input:
            notes.append(f"no supported files found under {input_path}")
        if nothing_worked or no_input:
            exit_code = ExitCode.NOTHING_INGESTED
            version = None
        else:
            exit_code = ExitCode.PARTIAL_FAILURE if failed else ExitCode.OK
            version = writer.version
        timings = {name: round(value, 3) for name, value in run.timer.seconds.items()}
        if version is not None:
            manifest = Manifest(
                kb_version=version,
                parent_version=previous.kb_version if previous else None,
                created_at=datetime.now(timezone.utc),
                kbbuild_version=kbbuild_version(),
                table_versions={CHUNKS_TABLE: table_version},
                config=settings.model_dump(mode="json"),
                config_fingerprint=fingerprint,
                embedding=embedding,
                plugins=registry.describe(),
                files=records,
                counts=counts,
                timings=timings,
                notes=notes,
            )
            writer.commit(manifest)
            try:
                pm.hook.kbbuild_version_committed(kb_path=kb.path, manifest=manifest)
            except Exception as error:  # the version is durable; a plugin failing after it is a note
                notes.append(f"a kbbuild_version_committed hook failed: {error}")
    return IngestReport(
        kb_path=str(kb.path),
        kb_version=version,
        exit_code=int(exit_code),
        files=records,
        unsupported=found.unsupported,
        counts=counts,
        timings=timings,
        seconds=round(time.perf_counter() - started, 3),
        notes=notes,
    )


def _nothing_to_commit(kb: KB, input_path: Path, found, records: list[FileRecord], started: float) -> IngestReport:
    """A first ingest in which no file could even be parsed: no table, no version."""
    note = "no file could be ingested" if records else f"no supported files found under {input_path}"
    counts = VersionCounts(
        files_seen=len(records),
        files_ingested=0,
        files_unchanged=0,
        files_failed=len(records),
        files_removed=0,
        pages=0,
        pages_without_text=0,
        chunks_added=0,
        chunks_removed=0,
        chunks_total=0,
    )
    return IngestReport(
        kb_path=str(kb.path),
        kb_version=None,
        exit_code=int(ExitCode.NOTHING_INGESTED),
        files=sorted(records, key=lambda r: r.relpath),
        unsupported=found.unsupported,
        counts=counts,
        timings={},
        seconds=round(time.perf_counter() - started, 3),
        notes=[note],
    )
