"""``kbbuild.ingest``: one run of the batch job, producing one new KB version.

The run is a stream of stages, each a module of ``kbbuild.pipeline``::

    discover ─▶ plan ─▶ prepare (parse, clean, chunk; a pool of worker processes, ``pool``)
             ─▶ duplicates ─▶ enrich ─▶ questions ─▶ embed (batches across files) ─▶ write ─▶ commit

Workers prepare files ahead while the driver (this process) embeds and writes the files before
them; files reach the driver in plan order, so the result does not depend on the worker count. A
bad file costs only itself: its failure is recorded with a reason and the batch goes on. Files
whose content hash and settings are unchanged since the previous version are not reprocessed.
"""

from __future__ import annotations

import os
import pickle
import time
import traceback
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kbbuild.config import DEFAULT_EMBED_MODEL, MULTILINGUAL_EMBED_MODEL, Settings
from kbbuild.enrich.questions.select import AskedQuestions
from kbbuild.errors import ConfigError, ExitCode, InputError, KbbuildError
from kbbuild.faults import crash_point
from kbbuild.parse.pdf.passwords import load_password_file
from kbbuild.pipeline.discover import Discovery, discover
from kbbuild.pipeline.duplicates import DuplicateStage
from kbbuild.pipeline.embed import EmbeddedFile, EmbedStage, KnownVectors, PendingFile, SerialEmbedder
from kbbuild.pipeline.language import sample_languages
from kbbuild.pipeline.plan import make_plan
from kbbuild.pipeline.pool import ParsePool
from kbbuild.pipeline.prepare import PrepareTools, prepare_parts
from kbbuild.pipeline.progress import Progress
from kbbuild.pipeline.questions import QuestionStage
from kbbuild.pipeline.ray_pool import RayPool
from kbbuild.pipeline.remote import is_remote, mirror, remote_uri
from kbbuild.pipeline.write import FileTally, failed_record, ingested_record, write_rows
from kbbuild.plugins import Registry, kbbuild_version, make_plugin_manager
from kbbuild.providers import Embedder
from kbbuild.records import (
    CleaningCounts,
    FileRecord,
    FileStatus,
    IngestReport,
    Manifest,
    PreparedFile,
    SourceFile,
    VersionCounts,
)
from kbbuild.store.failures import storage_errors
from kbbuild.store.kb import KB
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


def _cluster_embedding_note(pool: RayPool, embedding: EmbedStage) -> str:
    elsewhere, total = embedding.chunks_embedded_elsewhere, embedding.chunks_embedded
    note = f"--engine ray: {elsewhere} of {total} chunk texts were embedded on the cluster"
    return f"{note}; {pool.mismatch}" if pool.mismatch else note


def _stage_rows_on_cluster(
    pool: RayPool, writer: KBWriter, registry: Registry, settings: Settings, notes: list[str]
) -> None:
    """Let the cluster's embedding actors write the chunk rows (``[ingest] ray_write``), unless plugin
    enrichers must see the chunks first: they run here, after the duplicate index."""
    if not settings.ingest.ray_write:
        return
    if registry.enrichers:
        names = ", ".join(e.name for e in registry.enrichers)
        notes.append(f"--engine ray: chunk rows were written by this machine, since enrichers ({names}) run here")
        return
    pool.stage_into(writer.staging_target())


def stage_versions(registry: Registry, settings: Settings) -> dict[str, str]:
    """Code versions of the stages every file passes through (parsers differ per format and are
    recorded per file instead)."""
    chunker = registry.named("chunkers", settings.chunk.strategy)
    embedder = registry.named("embedders", settings.embed.provider)
    return {f"{stage.kind}:{stage.name}": stage.version for stage in [*registry.cleaners, chunker, embedder]}


def _settle_model(
    settings: Settings, registry: Registry, previous: Manifest | None, sources: list[SourceFile], notes: list[str]
) -> Settings:
    """Turn ``[embed] model = "auto"`` and ``provider = "auto"`` into a concrete model and provider before
    anything reads them (workers, the fingerprint, the manifest all see the concrete names). An existing
    KB keeps the model (and provider) it was built with, so a new default never re-embeds a KB nobody
    asked to change. A new KB gets the multilingual model when the files sampled from its input
    include one that is mainly Chinese, Japanese or Korean (``pipeline.language``), the English one
    otherwise; the choice and its reason go into the run's notes."""
    embed = settings.embed
    if embed.model != "auto" and embed.provider != "auto":
        return settings
    settled = settings.model_copy(deep=True)
    if embed.model == "auto":
        built_with = previous.config.get("embed", {}) if previous is not None else {}
        if built_with.get("model") not in (None, "auto"):
            settled.embed.model = built_with["model"]
            if embed.provider == "auto" and built_with.get("provider") not in (None, "auto"):
                settled.embed.provider = built_with["provider"]
        else:
            sample = sample_languages(sources)
            settled.embed.model = MULTILINGUAL_EMBED_MODEL if sample.has_cjk else DEFAULT_EMBED_MODEL
            why = (
                f"{sample.cjk_files} of {sample.files} files sampled are mainly Chinese/Japanese/Korean, which "
                f"{DEFAULT_EMBED_MODEL} cannot read"
                if sample.has_cjk
                else f"none of {sample.files} files sampled is mainly Chinese/Japanese/Korean"
            )
            notes.append(f"new KB: embedding model {settled.embed.model} ([embed] model = auto): {why}")
    if settled.embed.provider == "auto":
        settled.embed.provider = registry.embedder_for("auto", settled.embed.model).name
    return settled


def _settle_precision(settings: Settings, registry: Registry, previous: Manifest | None) -> Settings:
    """Turn ``[embed] precision = "auto"`` into the precision this run embeds with, before planning:
    all vectors of a KB must share one, so an existing KB keeps its own (a KB built before int8
    existed stays float and is not re-embedded), and only a new KB, or a new model, gets the
    provider's default. An explicit precision that differs from the KB's changes the settings
    fingerprint, and every file is embedded again."""
    if settings.embed.precision != "auto":
        return settings
    provider = registry.named("embedders", settings.embed.provider)
    same_model = previous is not None and previous.embedding.name == provider.describe(settings.embed.model)
    settled = settings.model_copy(deep=True)
    settled.embed.precision = (
        previous.embedding.precision
        if same_model and previous is not None
        else provider.default_precision(settings.embed.model, settings)
    )
    return settled


def worker_count(settings: Settings) -> int:
    """Parse worker processes: ``[ingest] workers``, or one per core; 0 parses in this process."""
    if settings.ingest.workers is not None:
        return settings.ingest.workers
    return os.cpu_count() or 1


@dataclass
class _Driver:
    """The stages after ``prepare``, run in this process on files in plan order."""

    settings: Settings
    registry: Registry
    embedder: Embedder
    duplicates: DuplicateStage
    questions: QuestionStage
    writer: KBWriter
    timer: _Timer
    progress: Progress
    debug: bool
    known_vectors: KnownVectors | None = None  # vectors computed elsewhere (the Ray engine's actors)
    records: list[FileRecord] = field(default_factory=list)
    tallies: dict[str, FileTally] = field(default_factory=dict)  # files with rows written, record to come
    failed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.questions.active:  # the question filter scores candidates with the model on its own thread
            self.embedder = SerialEmbedder(self.embedder)
            self.questions.on_queued, self.questions.on_done = (
                self.progress.questions_queued,
                self.progress.questions_done,
            )
        self.embedding = EmbedStage(self.embedder, self.settings.embed.batch_texts, self.known_vectors)

    def take(self, prepared: PreparedFile) -> None:
        """One prepared file, or part of one: duplicates, enrichers, questions, then into the
        embedding batch."""
        for name, seconds in prepared.seconds.items():
            self.timer.seconds[name] += seconds
        source = prepared.source
        if source.relpath in self.failed:  # the rest of a file whose earlier part failed
            return
        if prepared.error is not None:
            self._fail(prepared, prepared.error)
            return
        with self.timer.stage("dedup"):
            chunks, links = self.duplicates.admit(source.relpath, prepared.chunks)
        try:
            with self.timer.stage("enrich"):
                for enricher in self.registry.enrichers:
                    chunks = enricher.enrich(chunks, self.settings)
        except Exception as error:
            self._stage_failed(prepared, "enrich", error)
            return
        # The kept chunks travel on; the file's own list (duplicates included) is let go.
        lean = prepared.model_copy(update={"chunks": ()})
        if not self.questions.active:
            self._embed(lean, chunks, links, AskedQuestions(self.questions.label))
            return
        for (done, kept, kept_links), outcome in self.questions.submit((lean, chunks, links), chunks, self.embedder):
            self._embed(done, kept, kept_links, outcome)

    def finish(self) -> list[FileRecord]:
        for (done, kept, kept_links), outcome in self.questions.drain():
            self._embed(done, kept, kept_links, outcome)
        self.timer.seconds["questions"] += self.questions.seconds
        with self.timer.stage("embed"):
            ready = self.embedding.flush()
        self._store(ready)
        return self.records

    def _stage_failed(self, prepared: PreparedFile, stage: str, error: BaseException) -> None:
        """A stage's error fails the file, not the run: a user's bad input says what is wrong; any
        other error is reported as internal (or raised with --debug)."""
        if isinstance(error, KbbuildError) and not isinstance(error, InputError):
            raise error
        if isinstance(error, InputError):
            self._fail(prepared, str(error))
            return
        if self.debug:
            raise error
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        self._fail(prepared, f"internal error while {stage}: {detail}")

    def _embed(self, prepared: PreparedFile, chunks: list, links: list, asked: object) -> None:
        """A file whose questions are settled goes into the embedding batch."""
        if prepared.source.relpath in self.failed:  # an earlier part failed while this one waited
            return
        if isinstance(asked, BaseException):
            self._stage_failed(prepared, "questions", asked)
            return
        texts = [c.embedding_text(self.settings.chunk.embed_heading_path) for c in chunks]
        self.progress.queued(len(texts))
        with self.timer.stage("embed"):
            ready = self.embedding.add(PendingFile(prepared, chunks, links, asked, texts))
        self._store(ready)

    def _fail(self, prepared: PreparedFile, reason: str) -> None:
        """The file fails as a whole: rows its earlier parts wrote are taken back, and whatever of it
        is still on its way is ignored."""
        relpath = prepared.source.relpath
        self.failed.add(relpath)
        if self.tallies.pop(relpath, None) is not None or prepared.rows_staged:
            with self.timer.stage("store"):
                self.writer.discard(relpath)
        self.duplicates.forget(relpath)
        self.records.append(failed_record(prepared, reason))

    def _store(self, ready: list[EmbeddedFile]) -> None:
        self.progress.embedded(sum(len(done.pending.texts) for done in ready))
        for done in ready:
            prepared = done.pending.prepared
            relpath = prepared.source.relpath
            if relpath in self.failed:
                continue
            if done.error is not None:
                self._fail(prepared, done.error)
                continue
            tally = self.tallies.setdefault(relpath, FileTally())
            with self.timer.stage("store"):
                write_rows(done, self.writer, self.embedder.info.max_length, tally)
            self.progress.written(len(done.pending.chunks))
            if prepared.part:
                continue
            del self.tallies[relpath]
            self.records.append(ingested_record(prepared, tally, self.embedder.info.max_length))
            self.duplicates.settle(relpath)


def _start_pool(
    todo: list[SourceFile],
    settings: Settings,
    extra_plugins: tuple[object, ...],
    debug: bool,
    notes: list[str],
    spool_folder: Path,
    progress: Progress | None = None,
) -> ParsePool | RayPool | None:
    """Start the parse workers and hand them files at once (they read while the driver loads the
    model), or None to prepare files in this process (``--workers 0``). A single file still goes to
    one worker, so that it is read under ``[limits]``; its worker may then read a long PDF with a
    page-range pool."""
    if settings.ingest.engine == "ray" and todo:
        ray_pool = RayPool(settings, extra_plugins, debug, address=settings.ingest.ray_address)
        ray_pool.start(len(todo))
        notes.append(f"--engine ray: files were parsed on Ray ({ray_pool.size} CPUs), under Ray's limits, not [limits]")
        return ray_pool
    workers = min(worker_count(settings), len(todo))
    if workers and extra_plugins:
        try:
            pickle.dumps(extra_plugins)
        except Exception:
            notes.append(
                "plugins passed in-process cannot reach worker processes: files were parsed in this process, "
                "without the per-file time and memory limits"
            )
            workers = 0
    if workers == 0:
        if todo and worker_count(settings) == 0:
            notes.append("--workers 0: files were parsed in this process, without the per-file time and memory limits")
        return None
    page_workers = settings.parse.workers if len(todo) == 1 else 1
    pool = ParsePool(workers, settings, extra_plugins, debug, page_workers=page_workers, spool_folder=str(spool_folder))
    if progress is not None:
        pool.on_done, pool.on_page = progress.prepared, progress.page
    pool.begin(todo)
    return pool


def _prepared_files(
    todo: list[SourceFile], pool: ParsePool | RayPool | None, tools: PrepareTools, progress: Progress
) -> Iterator[PreparedFile]:
    """Prepared files in plan order, from the pool (which ``ingest`` closes) or from this process."""
    if pool is None:
        for source in todo:
            for prepared in prepare_parts(source, tools, on_page=progress.page):
                if not prepared.part:
                    progress.prepared(prepared)
                yield prepared
        return
    pool.on_done = progress.prepared
    pool.on_page = progress.page
    yield from pool.map(todo)


def _counts(found: Discovery, records: list[FileRecord], writer: KBWriter | None, total: int) -> VersionCounts:
    processed = [r for r in records if r.status is FileStatus.INGESTED]
    return VersionCounts(
        files_seen=len(found.sources) + len(found.failures) + len(found.skipped),
        files_ingested=len(processed),
        files_unchanged=sum(r.status is FileStatus.UNCHANGED for r in records),
        files_failed=sum(r.status is FileStatus.FAILED for r in records),
        files_removed=sum(r.status is FileStatus.REMOVED for r in records),
        files_skipped=sum(r.status is FileStatus.SKIPPED for r in records),
        pages=sum(r.pages for r in processed),
        pages_without_text=sum(len(r.pages_without_text) for r in processed),
        pages_ocr=sum(len(r.pages_ocr) for r in processed),
        chunks_added=writer.rows_added if writer else 0,
        chunks_removed=writer.rows_removed if writer else 0,
        chunks_total=total,
        cleaning=sum((r.cleaning for r in processed), CleaningCounts()),
        questions_generated=sum(r.questions_generated for r in processed),
        questions_kept=sum(r.questions_kept for r in processed),
        question_failures=sum(r.question_failures for r in processed),
        questions_reused=sum(r.questions_reused for r in processed),
    )


def ingest(
    input_path: str | Path,
    kb_path: str | Path,
    settings: Settings | None = None,
    *,
    full: bool = False,
    debug: bool = False,
    extra_plugins: tuple[object, ...] = (),
    collection: str | None = None,
) -> IngestReport:
    """Ingest a folder (or one file) into the KB at ``kb_path`` (its ``collection``, default when
    None) as a new KB version.

    Nothing is committed when there is no input at all or no file could be read: an empty or
    mistyped input folder must never turn into a version that deletes the whole KB.
    """
    started = time.perf_counter()
    settings = settings or Settings()
    if is_remote(kb_path):
        raise ConfigError(
            f"a KB on object storage ({remote_uri(kb_path)}) is not supported: the KB folder keeps a lock, "
            "version files and tags beside its Lance tables, written with local file operations. Put the KB on a "
            "local or network file system (every node of a cluster must see it); DOCS may be s3:// or gs://"
        )
    remote_note: str | None = None
    if is_remote(input_path):
        mirrored = mirror(remote_uri(input_path), settings.ingest.max_file_mb)
        remote_note, input_path = mirrored.note(), mirrored.folder
    input_path = Path(input_path)
    if not input_path.exists():
        raise InputError(f"input path does not exist: {input_path}")
    pm = make_plugin_manager(settings.plugins, extra_plugins)
    registry = Registry.from_plugin_manager(pm)
    if settings.ingest.pdf_password_file:  # a malformed password file is refused now, not per file
        load_password_file(settings.ingest.pdf_password_file)
    if settings.ocr.enabled and settings.ocr.device == "cuda":  # refuse now, not on the first scanned page
        registry.named("ocr_engines", settings.ocr.engine).configure(settings.ocr).device()
    timer = _Timer()
    kb = KB.open_or_create(kb_path, collection)
    with kb.write_lock():
        previous = kb.latest_manifest()
        with timer.stage("discover"):
            found = discover(input_path, settings, registry.supported_formats())
        model_notes: list[str] = []
        settings = _settle_model(settings, registry, previous, found.sources, model_notes)
        settings = _settle_precision(settings, registry, previous)
        fingerprint = settings.fingerprint(stage_versions(registry, settings))
        plan = make_plan(found, previous, fingerprint, full)
        plan.notes[:0] = [*([remote_note] if remote_note else []), *model_notes]
        records = [*found.failures, *plan.unreadable, *found.skipped, *plan.unchanged]
        pool: ParsePool | RayPool | None = None

        def report(version: int | None, code: ExitCode, writer: KBWriter | None, total: int) -> IngestReport:
            records.sort(key=lambda r: r.relpath)
            return IngestReport(
                kb_path=str(kb.path),
                kb_version=version,
                exit_code=int(code),
                files=records,
                unsupported=found.unsupported,
                counts=_counts(found, records, writer, total),
                timings={name: round(value, 3) for name, value in timer.seconds.items()},
                seconds=round(time.perf_counter() - started, 3),
                notes=plan.notes,
                workers=pool.size if pool is not None else 0,
            )

        previous_total = previous.counts.chunks_total if previous else 0
        if not found.sources and not found.failures:
            plan.notes.append(f"no supported files found under {input_path}; the KB is unchanged")
            return report(None, ExitCode.NOTHING_INGESTED, None, previous_total)
        if not plan.todo and not plan.unchanged:
            plan.notes.append("no file could be read; the KB is unchanged")
            return report(None, ExitCode.NOTHING_INGESTED, None, previous_total)

        asks = bool(settings.questions.generator)
        progress = Progress(len(plan.todo), settings.ingest.progress, questions=asks) if plan.todo else None
        try:
            if plan.todo:
                pool = _start_pool(plan.todo, settings, extra_plugins, debug, plan.notes, kb.parts_folder(), progress)
            questions = QuestionStage(registry, settings)
            duplicates = DuplicateStage(settings.clean)
            embedder = None
            if plan.todo:
                with timer.stage("load_model"):
                    embedder = registry.named("embedders", settings.embed.provider).load(settings.embed.model, settings)
                    questions.start()
                if isinstance(pool, ParsePool) and pool.meter is not None:
                    pool.meter.rebase()  # the run's memory budget is for the files, not the models
                if previous is not None and not plan.rebuild:
                    questions.load_cache(kb, previous, {s.relpath for s in plan.todo})
                with timer.stage("dedup"):
                    kept = {r.relpath for r in plan.unchanged}
                    duplicates.load_stored(kb, previous if not plan.rebuild else None, kept)
            embedding = embedder.info if embedder is not None else previous.embedding
            previous_version = previous.kb_version if previous else None
            with storage_errors(f"write a new KB version to {kb.label}", previous_version):
                writer = KBWriter(kb, previous, embedding, plan.rebuild, settings.ingest.write_batch_rows)
                plan.notes.extend(writer.notes)
                if plan.todo:
                    on_cluster = isinstance(pool, RayPool) and pool.embeds
                    if on_cluster:
                        pool.expect(embedder.info)
                        _stage_rows_on_cluster(pool, writer, registry, settings, plan.notes)
                    driver = _Driver(
                        settings,
                        registry,
                        embedder,
                        duplicates,
                        questions,
                        writer,
                        timer,
                        progress,
                        debug,
                        pool.known_vector if on_cluster else None,
                    )
                    tools = PrepareTools(
                        settings,
                        registry,
                        registry.named("chunkers", settings.chunk.strategy),
                        embedder.token_counter(),
                        debug,
                    )
                    try:
                        for prepared in _prepared_files(plan.todo, pool, tools, progress):
                            driver.take(prepared)
                        records.extend(driver.finish())
                    finally:
                        questions.close()
                        progress.close()
                        progress = None
                    plan.notes.extend(n for n in (questions.note(), questions.limit_note(), questions.kept_note()) if n)
                    if isinstance(pool, RayPool) and pool.spread():
                        plan.notes.append(pool.spread())
                    if on_cluster:
                        plan.notes.append(_cluster_embedding_note(pool, driver.embedding))
                        if pool.staged:
                            rows = sum(fragment.physical_rows for fragment in pool.staged)
                            plan.notes.append(
                                f"--engine ray: {rows} chunk rows were written on the cluster "
                                f"({len(pool.staged)} Lance fragments), committed here in one append"
                            )
                        writer.stage(pool.staged)
                ingested = [r.relpath for r in records if r.status is FileStatus.INGESTED]
                for record in records:
                    old = plan.previous_files.get(record.relpath)
                    if record.status is FileStatus.FAILED and old is not None and old.chunks:
                        plan.notes.append(
                            f"{record.relpath}: failed this time; its rows from the previous version are kept"
                        )
                if not ingested and not plan.unchanged and not plan.removed:
                    plan.notes.append("no file could be ingested; the KB is unchanged")
                    return report(None, ExitCode.NOTHING_INGESTED, writer, previous_total)

                records.extend(plan.removed)
                with timer.stage("store"):
                    writer.flush()
                    crash_point("rows_written")
                    writer.remove_older_rows([*ingested, *plan.rows_to_drop])
                    crash_point("old_rows_deleted")
                with timer.stage("index"):
                    plan.notes.extend(writer.build_indexes(settings.index))
                    crash_point("indexes_built")
                created_at = datetime.now(timezone.utc)
                records[:] = [
                    r.model_copy(update={"ingested": created_at}) if r.status is FileStatus.INGESTED else r
                    for r in records
                ]
                table_versions = writer.table_versions()
                total = writer.total_rows()
                failed = any(r.status is FileStatus.FAILED for r in records)
                result = report(writer.version, ExitCode.PARTIAL_FAILURE if failed else ExitCode.OK, writer, total)
                manifest = Manifest(
                    kb_version=writer.version,
                    parent_version=previous.kb_version if previous else None,
                    created_at=created_at,
                    kbbuild_version=kbbuild_version(),
                    table_versions=table_versions,
                    config=settings.model_dump(mode="json"),
                    config_fingerprint=fingerprint,
                    embedding=embedding,
                    plugins=registry.describe(),
                    files=result.files,
                    counts=result.counts,
                    timings=result.timings,
                    notes=result.notes,
                    collection=kb.collection,
                )
                writer.commit(manifest)
        finally:
            if progress is not None:
                progress.close()
            if pool is not None:
                pool.close()
    try:
        pm.hook.kbbuild_version_committed(kb_path=kb.path, manifest=manifest)
    except Exception as error:  # the version is durable; a plugin failing after it is only a note
        return result.model_copy(update={"notes": [*result.notes, f"a kbbuild_version_committed hook failed: {error}"]})
    return result
