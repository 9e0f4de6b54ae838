"""The write stage: an embedded file becomes rows in the KB's tables and a ``FileRecord`` for the
manifest. Rows are buffered by ``store.writer.KBWriter`` and appended in batches."""

from __future__ import annotations

from kbbuild.enrich.questions.select import question_rows
from kbbuild.pipeline.embed import EmbeddedFile
from kbbuild.records import CleaningCounts, FileRecord, FileStatus, PreparedFile, file_record
from kbbuild.store.schema import to_rows
from kbbuild.store.writer import KBWriter


def failed_record(prepared: PreparedFile, reason: str) -> FileRecord:
    return file_record(
        prepared.source,
        FileStatus.FAILED,
        parser=prepared.parser or None,
        error=reason,
        peak_memory_mb=prepared.peak_memory_mb,
        read_seconds=prepared.wall_seconds,
    )


def store_file(done: EmbeddedFile, writer: KBWriter, max_length: int) -> FileRecord:
    """Append the file's rows (an error here is the KB's, not the file's: it aborts the run before
    any commit) and describe the file for the manifest."""
    pending = done.pending
    prepared, chunks, links, asked = pending.prepared, pending.chunks, pending.links, pending.asked
    writer.add(to_rows(chunks, done.vectors, prepared.parser, writer.version))
    if asked.judged:
        writer.add_questions(question_rows(asked.judged, done.question_vectors, asked.generator, writer.version))
    warnings = list(prepared.warnings)
    truncated = sum(n > max_length for n in done.lengths)
    if truncated:
        warnings.append(
            f"{truncated} of {len(chunks)} chunks exceed the model's {max_length}-token window and were "
            "embedded truncated (lower --chunk-tokens)"
        )
    if not chunks and not links:
        warnings.append("no text was extracted: nothing from this file is searchable")
    return file_record(
        prepared.source,
        FileStatus.INGESTED,
        parser=prepared.parser,
        pages=prepared.pages,
        pages_without_text=list(prepared.pages_without_text),
        pages_ocr=list(prepared.pages_ocr),
        chunks=len(chunks),
        warnings=warnings,
        peak_memory_mb=prepared.peak_memory_mb,
        read_seconds=prepared.wall_seconds,
        cleaning=prepared.cleaning
        + CleaningCounts(
            duplicates_exact=sum(not link.near for link in links),
            duplicates_near=sum(link.near for link in links),
        ),
        furniture=list(prepared.furniture),
        duplicates=links,
        questions_generated=asked.generated,
        questions_kept=asked.kept,
        question_failures=asked.failures,
        questions_reused=asked.reused,
    )
