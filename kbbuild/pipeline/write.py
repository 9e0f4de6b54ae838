"""The write stage: an embedded file becomes rows in the KB's tables and a ``FileRecord`` for the
manifest. Rows are buffered by ``store.writer.KBWriter`` and appended in batches; a file sent in
parts is written part by part and tallied, and gets its record with its last part."""

from __future__ import annotations

from dataclasses import dataclass, field

from kbbuild.enrich.questions.select import question_rows
from kbbuild.pipeline.embed import EmbeddedFile
from kbbuild.records import CleaningCounts, DuplicateLink, FileRecord, FileStatus, PreparedFile, file_record
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


@dataclass
class FileTally:
    """What the rows written for one file add up to. A file sent in parts is written part by part;
    its record is made when the part that completes it is written."""

    chunks: int = 0
    by_original: dict[tuple[str, bool], DuplicateLink] = field(default_factory=dict)
    truncated: int = 0
    generated: int = 0
    kept: int = 0
    failures: int = 0
    reused: int = 0

    def link(self, links: list[DuplicateLink]) -> None:
        """Fold each link into the file's link to the same stored chunk."""
        for link in links:
            key = (link.duplicate_of, link.near)
            known = self.by_original.get(key)
            if known is None:
                self.by_original[key] = link
                continue
            pages = sorted(set(known.pages) | set(link.pages))
            self.by_original[key] = known.model_copy(update={"pages": pages, "count": known.count + link.count})

    @property
    def links(self) -> list[DuplicateLink]:
        return list(self.by_original.values())


def write_rows(done: EmbeddedFile, writer: KBWriter, max_length: int, tally: FileTally) -> None:
    """Append the rows of a file (or of one part of it); an error here is the KB's, not the file's:
    it aborts the run before any commit."""
    pending = done.pending
    asked = pending.asked
    if pending.staged:  # the rows are staged already, every chunk's: those of duplicates go again
        writer.drop_staged([link.chunk_id for link in pending.links])
    else:
        writer.add(to_rows(pending.chunks, done.vectors, pending.prepared.parser, writer.version))
    if asked.judged:
        writer.add_questions(question_rows(asked.judged, done.question_vectors, asked.generator, writer.version))
    tally.chunks += len(pending.chunks)
    tally.link(pending.links)
    tally.truncated += sum(n > max_length for n in done.lengths)
    tally.generated += asked.generated
    tally.kept += asked.kept
    tally.failures += asked.failures
    tally.reused += asked.reused


def ingested_record(prepared: PreparedFile, tally: FileTally, max_length: int) -> FileRecord:
    """The manifest's account of a file whose rows are all written."""
    warnings = list(prepared.warnings)
    if tally.truncated:
        warnings.append(
            f"{tally.truncated} of {tally.chunks} chunks exceed the model's {max_length}-token window and were "
            "embedded truncated (lower --chunk-tokens)"
        )
    if not tally.chunks and not tally.links:
        warnings.append("no text was extracted: nothing from this file is searchable")
    links = tally.links
    return file_record(
        prepared.source,
        FileStatus.INGESTED,
        parser=prepared.parser,
        pages=prepared.pages,
        pages_without_text=list(prepared.pages_without_text),
        pages_ocr=list(prepared.pages_ocr),
        chunks=tally.chunks,
        warnings=warnings,
        peak_memory_mb=prepared.peak_memory_mb,
        read_seconds=prepared.wall_seconds,
        cleaning=prepared.cleaning
        + CleaningCounts(
            duplicates_exact=sum(link.count for link in links if not link.near),
            duplicates_near=sum(link.count for link in links if link.near),
        ),
        furniture=list(prepared.furniture),
        duplicates=links,
        document_date=prepared.document_date,
        questions_generated=tally.generated,
        questions_kept=tally.kept,
        question_failures=tally.failures,
        questions_reused=tally.reused,
    )
