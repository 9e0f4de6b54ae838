"""The plan: what this ingest will do, decided from the previous version and the discovered files
before anything is written (which files are unchanged, which to process, which are gone)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kbbuild.pipeline.discover import Discovery
from kbbuild.records import FileRecord, FileStatus, Manifest, SourceFile


@dataclass
class Plan:
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


def make_plan(found: Discovery, previous: Manifest | None, fingerprint: str, full: bool) -> Plan:
    rebuild = full or previous is None or previous.config_fingerprint != fingerprint
    plan = Plan(previous=previous, rebuild=rebuild)
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
            update = {"status": FileStatus.UNCHANGED, "warnings": [], "modified": source.modified}
            plan.unchanged.append(old.model_copy(update=update))
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


def _requeue_linked(plan: Plan, found: Discovery, present: set[str]) -> None:
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
