"""Undoing a build and reclaiming space without rewriting history.

Both operations commit a new KB version, as an ingest does, instead of editing an old one: readers
pinned to a version number or tag keep getting the same rows, and ``kbbuild versions`` tells the
whole story. ``rollback`` restores each LanceDB table to the version the target pinned (Lance's
``restore`` writes that content as a new table version; nothing is copied folder by folder).
``gc`` compacts the tables, which also needs a new version since compaction makes new table
versions, then deletes the KB versions the user let go and has Lance clean up every table version
no kept KB version pins (kept ones are protected by their ``kb-vN`` tags).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kbbuild.errors import KBError
from kbbuild.faults import crash_point
from kbbuild.records import CleaningCounts, FileStatus, GcReport, Manifest
from kbbuild.store.commit import commit_version, recover, unprotected, unreadable
from kbbuild.store.kb import KB
from kbbuild.store.manifest import remove_manifest
from kbbuild.store.tags import version_tag


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _settle(table, pinned: int) -> None:
    """Bring a table back to the version the current KB version pins, dropping what a writer that
    died left on top (the next writer would do the same)."""
    if table.version != pinned:
        table.restore(pinned)


def _content_only(target: Manifest) -> dict[str, object]:
    """A version that re-uses another's content did no work itself: its files are all unchanged and
    its work counts are zero, while the totals describe the content."""
    files = [
        f.model_copy(update={"status": FileStatus.UNCHANGED}) if f.status is FileStatus.INGESTED else f
        for f in target.files
        if f.status is not FileStatus.REMOVED
    ]
    counts = target.counts.model_copy(
        update={
            "files_ingested": 0,
            "files_removed": 0,
            "files_unchanged": sum(f.status is FileStatus.UNCHANGED for f in files),
            "pages": 0,
            "pages_without_text": 0,
            "pages_ocr": 0,
            "chunks_added": 0,
            "chunks_removed": 0,
            "cleaning": CleaningCounts(),
            "questions_generated": 0,
            "questions_kept": 0,
            "question_failures": 0,
            "questions_reused": 0,
        }
    )
    return {"files": files, "counts": counts, "timings": {}}


def rollback(kb: KB, ref: str | int) -> Manifest:
    """Make the content of version ``ref`` current again, as a new version."""
    from kbbuild.plugins import kbbuild_version

    with kb.write_lock():
        latest = kb.manifest()
        target = kb.manifest(kb.resolve(ref))
        if target.kb_version == latest.kb_version:
            raise KBError(f"KB version {target.kb_version} is already the current version; nothing to roll back")
        db = kb.connect()
        damaged = recover(kb.path, db).damaged
        if target.kb_version in damaged:
            raise KBError(f"cannot roll back to KB version {target.kb_version}: {damaged[target.kb_version]}")
        table_versions: dict[str, int] = {}
        for name, pinned in target.table_versions.items():
            table = db.open_table(name)
            try:
                table.restore(pinned)
            except (ValueError, RuntimeError, OSError) as error:
                raise KBError(
                    f"cannot restore table {name} to its state in KB version {target.kb_version}: {error}"
                ) from error
            table_versions[name] = table.version
        manifest = target.model_copy(
            update={
                "kb_version": latest.kb_version + 1,
                "parent_version": latest.kb_version,
                "created_at": _now(),
                "kbbuild_version": kbbuild_version(),
                "table_versions": table_versions,
                "operation": "rollback",
                "restored_from": target.kb_version,
                "removed_versions": [],
                "notes": [f"rollback: the content of KB version {target.kb_version} is current again"],
                **_content_only(target),
            }
        )
        commit_version(kb.path, db, manifest)
    return manifest


def gc(kb: KB, keep: int) -> GcReport:
    """Compact the tables, keep the ``keep`` newest versions and every tagged one, delete the rest."""
    from kbbuild.plugins import kbbuild_version

    if keep < 1:
        raise KBError("--keep must be at least 1: the current version is always kept")
    with kb.write_lock():
        latest = kb.manifest()
        db = kb.connect()
        recovery = recover(kb.path, db)
        notes, recovered_damage = recovery.notes, recovery.damaged
        compacted: dict[str, int] = {}
        for name, pinned in latest.table_versions.items():
            table = db.open_table(name)
            _settle(table, pinned)
            metrics = table.to_lance().optimize.compact_files()
            table.checkout_latest()
            if metrics.fragments_removed:
                compacted[name] = metrics.fragments_removed
        existing = kb.versions()
        new_version = latest.kb_version + 1 if compacted else None
        newest = [*existing, new_version][-keep:] if new_version else existing[-keep:]
        tagged = set(kb.tags().values())
        removed = [v for v in existing if v not in newest and v not in tagged]
        if new_version:
            table_versions = {name: db.open_table(name).version for name in latest.table_versions}
            manifest = latest.model_copy(
                update={
                    "kb_version": new_version,
                    "parent_version": latest.kb_version,
                    "created_at": _now(),
                    "kbbuild_version": kbbuild_version(),
                    "table_versions": table_versions,
                    "operation": "gc",
                    "restored_from": None,
                    "removed_versions": removed,
                    "notes": ["gc: " + ", ".join(f"{n}: {f} fragments merged" for n, f in compacted.items())],
                    **_content_only(latest),
                }
            )
            commit_version(kb.path, db, manifest)
            crash_point("gc_committed")
        # A version is gone once its manifest is; only then may the data it pinned go.
        for version in removed:
            remove_manifest(kb.path, version)
        crash_point("gc_manifests_removed")
        exposed = unprotected(kb.path, db, [v for v in kb.versions() if v not in recovered_damage])
        if exposed:  # cleanup deletes every untagged table version: never let it near a kept one
            raise KBError(
                "gc stopped before deleting any data: these table versions of kept KB versions are not "
                "protected by their kb-vN tag: " + "; ".join(exposed)
            )
        bytes_removed = 0
        for name in db.list_tables().tables:
            table = db.open_table(name)
            for version in removed:
                if version_tag(version) in table.tags.list():
                    table.tags.delete(version_tag(version))
            stats = table.to_lance().cleanup_old_versions(
                older_than=timedelta(0), delete_unverified=True, error_if_tagged_old_versions=False
            )
            bytes_removed += stats.bytes_removed
        crash_point("gc_cleaned")
        lost = {v: why for v, why in unreadable(kb.path, db, kb.versions()).items() if v not in recovered_damage}
        if lost:  # a guard against a Lance change of behaviour: it would be a bug, so say so loudly
            raise KBError(
                "gc deleted data that kept KB versions need: "
                + "; ".join(f"version {v}: {why}" for v, why in lost.items())
            )
    return GcReport(
        kept=kb.versions(),
        removed=removed,
        tagged_kept=sorted(tagged & set(kb.versions())),
        new_version=new_version,
        compacted=compacted,
        bytes_removed=bytes_removed,
        notes=notes,
    )
