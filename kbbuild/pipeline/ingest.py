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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from kbbuild.clean.dedup import DuplicateIndex
from kbbuild.clean.furniture import furniture_lines
from kbbuild.config import Settings
from kbbuild.enrich.questions.select import AskedQuestions, CachedQuestion, question_rows, reuse, select_questions
from kbbuild.errors import ConfigError, ExitCode, InputError, KbbuildError
from kbbuild.faults import crash_point
from kbbuild.pipeline.discover import Discovery, discover
from kbbuild.plugins import Registry, kbbuild_version, make_plugin_manager
from kbbuild.providers import Embedder, ParseContext, Questioner
from kbbuild.records import (
    Chunk,
    CleaningCounts,
    DuplicateLink,
    FileRecord,
    FileStatus,
    IngestReport,
    Manifest,
    SourceFile,
    VersionCounts,
    file_record,
)
from kbbuild.store.failures import storage_errors
from kbbuild.store.kb import KB, pinned_table
from kbbuild.store.schema import QUESTIONS_TABLE, to_rows
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

    def __init__(self, registry: Registry, settings: Settings, debug: bool) -> None:
        self.registry = registry
        self.settings = settings
        self.debug = debug
        self.timer = _Timer()
        self.chunker = registry.named("chunkers", settings.chunk.strategy)
        self.embed_provider = registry.named("embedders", settings.embed.provider)
        self._embedder: Embedder | None = None
        self.pages_seen = 0
        self.dedup: DuplicateIndex | None = None
        self.questioner: Questioner | None = None
        self.question_label = ""
        self.question_cache: dict[str, list[CachedQuestion]] = {}

    def stage_versions(self) -> dict[str, str]:
        """Code versions of the stages every file passes through (parsers differ per format and
        are recorded per file instead)."""
        stages = [*self.registry.cleaners, self.chunker, self.embed_provider]
        return {f"{stage.kind}:{stage.name}": stage.version for stage in stages}

    def start_questions(self) -> None:
        """Load the configured question generator, or refuse the run with the reason it cannot."""
        options = self.settings.questions
        if not options.generator:
            return
        provider = self.registry.named("question_generators", options.generator)
        why = provider.unavailable_reason(self.settings)
        if why:
            raise ConfigError(f"question generator '{options.generator}' cannot run: {why}")
        with self.timer.stage("load_model"):
            self.questioner = provider.load(self.settings)
        self.question_label = f"{options.generator}:{options.model}"

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
        chunks_indexed: list[str] = []  # ids this file added to the duplicate index, undone if it fails

        def on_page(_page: int) -> None:
            nonlocal pages_done
            pages_done += 1
            self.pages_seen += 1
            bar.set_postfix_str(f"{self.pages_seen} pages | {source.relpath[-40:]} p.{pages_done}", refresh=False)

        stage = "parse"
        try:
            with self.timer.stage(stage):
                document = parser.parse(source, ParseContext(self.settings, on_page, self.registry))
            stage = "clean"
            with self.timer.stage(stage):
                for cleaner in self.registry.cleaners:
                    document = cleaner.clean(document, self.settings)
            count = self.embedder.token_counter()  # budgets in the model's tokens (loads it once)
            stage = "chunk"
            with self.timer.stage(stage):
                chunks = self.chunker.chunk(document, self.settings, count)
            stage = "dedup"
            with self.timer.stage(stage):
                chunks, links = self._drop_duplicates(chunks, chunks_indexed)
            stage = "enrich"
            with self.timer.stage(stage):
                for enricher in self.registry.enrichers:
                    chunks = enricher.enrich(chunks, self.settings)
            embedder = self.embedder
            stage = "questions"
            with self.timer.stage(stage):
                asked = self._ask(chunks, embedder)
            texts = [c.embedding_text(self.settings.chunk.embed_heading_path) for c in chunks]
            stage = "embed"
            with self.timer.stage(stage):
                vectors = embedder.embed_documents(texts) if texts else []
                lengths = embedder.count_tokens(texts) if texts else []
                # Questions are matched against questions: both sides embedded as queries.
                fresh = [q.text for q in asked.judged if q.vector is None]
                fresh_vectors = iter(embedder.embed_queries(fresh) if fresh else [])
                question_vectors = [q.vector if q.vector is not None else next(fresh_vectors) for q in asked.judged]
        except InputError as error:
            self._forget(chunks_indexed)
            return self._failure(source, parser.name, str(error))
        except KbbuildError:
            raise
        except Exception as error:
            self._forget(chunks_indexed)
            if self.debug:
                raise
            detail = traceback.format_exception_only(type(error), error)[-1].strip()
            return self._failure(source, parser.name, f"internal error while {stage} ({parser.name}): {detail}")
        # Past this point an error is the KB's, not the file's: it aborts the run before any commit.
        with self.timer.stage("store"):
            writer.add(to_rows(chunks, vectors, parser.name, writer.version))
            if asked.judged:
                writer.add_questions(question_rows(asked.judged, question_vectors, asked.generator, writer.version))
        warnings = list(document.warnings)
        limit = embedder.info.max_length
        truncated = sum(n > limit for n in lengths or ())
        if truncated:
            warnings.append(
                f"{truncated} of {len(chunks)} chunks exceed the model's {limit}-token window and were "
                "embedded truncated (lower --chunk-tokens)"
            )
        if not chunks and not links:
            warnings.append("no text was extracted: nothing from this file is searchable")
        return file_record(
            source,
            FileStatus.INGESTED,
            parser=parser.name,
            pages=len(document.pages),
            pages_without_text=list(document.pages_without_text),
            pages_ocr=list(document.pages_ocr),
            chunks=len(chunks),
            warnings=warnings,
            cleaning=document.cleaning
            + CleaningCounts(
                duplicates_exact=sum(not link.near for link in links),
                duplicates_near=sum(link.near for link in links),
            ),
            furniture=furniture_lines(document),
            duplicates=links,
            questions_generated=asked.generated,
            questions_kept=asked.kept,
            question_failures=asked.failures,
            questions_reused=asked.reused,
        )

    def _ask(self, chunks: list[Chunk], embedder: Embedder) -> AskedQuestions:
        """Synthetic questions for the chunks, filtered (Doc2Query--), when a generator is configured."""
        if self.questioner is None or not chunks:
            return AskedQuestions(self.question_label)
        options = self.settings.questions
        cached = [c for c in chunks if c.id in self.question_cache]
        todo = [c for c in chunks if c.id not in self.question_cache]
        before = self.questioner.failures
        raw = self.questioner.questions([c.text for c in todo], options.candidates) if todo else []
        failures = self.questioner.failures - before
        asked = select_questions(todo, raw, embedder, options.n, options.min_score, self.question_label, failures)
        for chunk in cached:
            asked.judged.extend(reuse(chunk, self.question_cache[chunk.id]))
        asked.reused = len(cached)
        return asked

    def load_question_cache(self, kb: KB, previous: Manifest, sources: set[str]) -> None:
        """Questions of the previous version for the files processed again: a chunk whose text did
        not change keeps its id, and then its questions, without asking the generator again."""
        if self.questioner is None or QUESTIONS_TABLE not in previous.table_versions or not sources:
            return
        table = pinned_table(kb.connect(), QUESTIONS_TABLE, previous)
        rows = table.search().select(["chunk_id", "source", "text", "score", "dropped", "generator", "vector"])
        for row in rows.limit(table.count_rows()).to_list():
            if row["source"] in sources and row["generator"] == self.question_label:
                cached = CachedQuestion(row["text"], float(row["score"]), row["dropped"], tuple(row["vector"]))
                self.question_cache.setdefault(row["chunk_id"], []).append(cached)

    def _drop_duplicates(self, chunks: list[Chunk], indexed: list[str]) -> tuple[list[Chunk], list[DuplicateLink]]:
        """Chunks whose text is already stored (by an earlier file, version or chunk) become links."""
        if self.dedup is None:
            return chunks, []
        kept: list[Chunk] = []
        links: list[DuplicateLink] = []
        for chunk in chunks:
            match = self.dedup.match(chunk.text)
            if match is None:
                kept.append(chunk)
                self.dedup.add(chunk.id, chunk.source, chunk.text)
                indexed.append(chunk.id)
                continue
            links.append(
                DuplicateLink(
                    chunk_id=chunk.id,
                    pages=list(chunk.pages),
                    duplicate_of=match.original.chunk_id,
                    duplicate_of_source=match.original.source,
                    near=match.near,
                )
            )
        return kept, links

    def _forget(self, chunk_ids: list[str]) -> None:
        if self.dedup is not None:
            self.dedup.remove(chunk_ids)

    def start_dedup(self, kb: KB, previous: Manifest | None, keep: set[str]) -> None:
        """Index the stored chunks of the files this run keeps, so that new files link to them."""
        options = self.settings.clean
        if options.dedup == "off":
            return
        self.dedup = DuplicateIndex(near=options.dedup == "near", threshold=options.near_duplicate_jaccard)
        if previous is None or not keep:
            return
        with self.timer.stage("dedup"):
            table = kb.chunks_table(previous)
            rows = table.search().select(["id", "source", "chunk_index", "text"]).limit(table.count_rows()).to_list()
            for row in sorted(rows, key=lambda r: (r["source"], r["chunk_index"])):
                if row["source"] in keep:
                    self.dedup.add(row["id"], row["source"], row["text"])

    @staticmethod
    def _failure(source: SourceFile, parser: str, reason: str) -> FileRecord:
        return file_record(source, FileStatus.FAILED, parser=parser, error=reason)


@dataclass
class _Plan:
    """What this ingest will do, decided before anything is written."""

    previous: Manifest | None
    rebuild: bool
    todo: list[SourceFile] = field(default_factory=list)
    unchanged: list[FileRecord] = field(default_factory=list)
    removed: list[FileRecord] = field(default_factory=list)
    previous_files: dict[str, FileRecord] = field(default_factory=dict)
    unreadable: list[FileRecord] = field(default_factory=list)
    rows_to_drop: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _plan(found: Discovery, previous: Manifest | None, fingerprint: str, full: bool) -> _Plan:
    rebuild = full or previous is None or previous.config_fingerprint != fingerprint
    plan = _Plan(previous=previous, rebuild=rebuild)
    if previous is not None and rebuild:
        plan.notes.append(
            "--full: every file is processed again"
            if full
            else "parse/chunk/embedding settings changed, or the cleaning/chunking/embedding code did, since the "
            "last version: every file is processed again"
        )
    if previous is not None and not rebuild:
        plan.previous_files = {f.relpath: f for f in previous.files if f.status is not FileStatus.REMOVED}
    for source in found.sources:
        old = plan.previous_files.get(source.relpath)
        if old and old.sha256 == source.sha256 and old.status in (FileStatus.INGESTED, FileStatus.UNCHANGED):
            plan.unchanged.append(old.model_copy(update={"status": FileStatus.UNCHANGED, "warnings": []}))
        else:
            plan.todo.append(source)
    plan.unreadable = _behind_unreadable_folders(found, plan.previous_files)
    present = {s.relpath for s in found.sources} | {f.relpath for f in [*found.failures, *plan.unreadable]}
    _requeue_linked(plan, found, present)
    skipped = {f.relpath for f in found.skipped}
    plan.removed = [
        FileRecord(
            relpath=old.relpath,
            sha256=old.sha256,
            size=old.size,
            format=old.format,
            status=FileStatus.REMOVED,
            parser=old.parser,
        )
        for old in plan.previous_files.values()
        if old.relpath not in present | skipped
        and old.status is not FileStatus.SKIPPED
        and not old.relpath.endswith("/")
    ]
    plan.rows_to_drop = sorted({r.relpath for r in plan.removed} | (skipped & set(plan.previous_files)))
    return plan


def _behind_unreadable_folders(found: Discovery, previous: dict[str, FileRecord]) -> list[FileRecord]:
    """Files of the previous version inside a folder that could not be listed this time: they are
    failures (their rows stay), not deletions. A permission slip must never empty a KB."""
    records = []
    for folder in found.unreadable_folders:
        inside = "" if folder == "." else folder + "/"
        for old in previous.values():
            if old.relpath.startswith(inside) and not old.relpath.endswith("/"):
                why = f"folder {folder}/ cannot be listed this time, so this file was not read"
                records.append(old.model_copy(update={"status": FileStatus.FAILED, "error": why, "warnings": []}))
    return records


def _requeue_linked(plan: _Plan, found: Discovery, present: set[str]) -> None:
    """An unchanged file whose duplicates point at a file that changes or goes must be processed
    again: its linked chunks may have to become the stored originals now."""
    sources = {s.relpath: s for s in found.sources}
    changing = {s.relpath for s in plan.todo} | (set(plan.previous_files) - present)
    moved = True
    while moved:
        moved = False
        for record in list(plan.unchanged):
            if any(link.duplicate_of_source in changing for link in record.duplicates):
                plan.unchanged.remove(record)
                plan.todo.append(sources[record.relpath])
                changing.add(record.relpath)
                moved = True
    if moved or len(plan.todo) > 1:
        plan.todo.sort(key=lambda s: s.relpath)


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
    input_path = Path(input_path)
    if not input_path.exists():
        raise InputError(f"input path does not exist: {input_path}")
    pm = make_plugin_manager(settings.plugins, extra_plugins)
    registry = Registry.from_plugin_manager(pm)
    run = _Run(registry, settings, debug)
    kb = KB.open_or_create(kb_path, collection)
    with kb.write_lock():
        previous = kb.latest_manifest()
        with run.timer.stage("discover"):
            found = discover(input_path, settings, registry.supported_formats())
        fingerprint = settings.fingerprint(run.stage_versions())
        plan = _plan(found, previous, fingerprint, full)
        records = [*found.failures, *plan.unreadable, *found.skipped, *plan.unchanged]

        def report(version: int | None, code: ExitCode, writer: KBWriter | None, total: int) -> IngestReport:
            records.sort(key=lambda r: r.relpath)
            return IngestReport(
                kb_path=str(kb.path),
                kb_version=version,
                exit_code=int(code),
                files=records,
                unsupported=found.unsupported,
                counts=_counts(found, records, writer, total),
                timings={name: round(value, 3) for name, value in run.timer.seconds.items()},
                seconds=round(time.perf_counter() - started, 3),
                notes=plan.notes,
            )

        previous_total = previous.counts.chunks_total if previous else 0
        if not found.sources and not found.failures:
            plan.notes.append(f"no supported files found under {input_path}; the KB is unchanged")
            return report(None, ExitCode.NOTHING_INGESTED, None, previous_total)
        if not plan.todo and not plan.unchanged:
            plan.notes.append("no file could be read; the KB is unchanged")
            return report(None, ExitCode.NOTHING_INGESTED, None, previous_total)

        if plan.todo:
            run.start_questions()
            if previous is not None and not plan.rebuild:
                run.load_question_cache(kb, previous, {s.relpath for s in plan.todo})
            run.start_dedup(kb, previous if not plan.rebuild else None, {r.relpath for r in plan.unchanged})
        embedding = run.embedder.info if plan.todo else previous.embedding
        previous_version = previous.kb_version if previous else None
        with storage_errors(f"write a new KB version to {kb.label}", previous_version):
            writer = KBWriter(kb, previous, embedding, plan.rebuild, settings.ingest.write_batch_rows)
            plan.notes.extend(writer.notes)
            with tqdm(
                total=len(plan.todo),
                unit="file",
                desc="ingest",
                disable=not settings.ingest.progress,
                dynamic_ncols=True,
            ) as bar:
                for source in plan.todo:
                    records.append(run.process(source, writer, bar))
                    bar.update(1)
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
            with run.timer.stage("store"):
                writer.flush()
                crash_point("rows_written")
                writer.remove_older_rows([*ingested, *plan.rows_to_drop])
                crash_point("old_rows_deleted")
            with run.timer.stage("index"):
                plan.notes.extend(writer.build_indexes(settings.index))
                crash_point("indexes_built")
            table_versions = writer.table_versions()
            total = writer.total_rows()
            failed = any(r.status is FileStatus.FAILED for r in records)
            result = report(writer.version, ExitCode.PARTIAL_FAILURE if failed else ExitCode.OK, writer, total)
            manifest = Manifest(
                kb_version=writer.version,
                parent_version=previous.kb_version if previous else None,
                created_at=datetime.now(timezone.utc),
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
    try:
        pm.hook.kbbuild_version_committed(kb_path=kb.path, manifest=manifest)
    except Exception as error:  # the version is durable; a plugin failing after it is only a note
        return result.model_copy(update={"notes": [*result.notes, f"a kbbuild_version_committed hook failed: {error}"]})
    return result
