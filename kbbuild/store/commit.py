"""Committing a KB version, and repairing what a writer that died mid-commit left behind.

A KB version is two things on disk: LanceDB tags ``kb-vN`` on every table version it pins (they stop
Lance's cleanup from deleting that data) and the manifest ``versions/N.json`` (the commit itself).
The tags are written first. A crash between the two then leaves tags without a manifest, which
protect some data for a while and are harmless; the opposite order would leave a committed version
whose data the next ``gc`` deletes. Every writer (ingest, rollback, gc, tag) calls ``recover``
under the lock before anything else, so that KBs written by older kbbuild versions, which used the
opposite order, are mended too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kbbuild.faults import crash_point
from kbbuild.records import Manifest
from kbbuild.store.manifest import VERSIONS_DIR, list_versions, manifest_path, write_manifest
from kbbuild.store.tags import RESERVED, pin_table_versions, tag_table, version_tag


def commit_version(kb_path: Path, db, manifest: Manifest) -> None:
    """Protect the table versions, then publish the manifest: the version exists from the rename on."""
    pin_table_versions(db, manifest.kb_version, manifest.table_versions)
    crash_point("tags_written")
    write_manifest(kb_path, manifest)
    crash_point("manifest_written")


@dataclass
class Recovery:
    """What ``recover`` mended, and which committed versions have lost data it cannot bring back."""

    notes: list[str] = field(default_factory=list)
    damaged: dict[int, str] = field(default_factory=dict)


def _pinned_tables(kb_path: Path, version: int) -> dict[str, int]:
    """The table versions a manifest pins, read without validating the whole (possibly large) file."""
    return json.loads(manifest_path(kb_path, version).read_text(encoding="utf-8"))["table_versions"]


def _remove_stale_temp_files(kb_path: Path) -> int:
    """Temp files of an atomic write that was killed before its rename. Under the write lock no
    other writer can own one, so every one of them is garbage."""
    removed = 0
    for folder in (kb_path, kb_path / VERSIONS_DIR):
        for leftover in folder.glob(".*.tmp") if folder.is_dir() else ():
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def recover(kb_path: Path, db) -> Recovery:
    """Make the tags agree with the manifests: tag every table version a committed KB version pins,
    and drop ``kb-vN`` tags of versions that were never committed (or whose manifest gc deleted)."""
    result = Recovery()
    if _remove_stale_temp_files(kb_path):
        result.notes.append("removed temporary files of a write that was interrupted")
    committed = list_versions(kb_path)
    tables = {name: db.open_table(name) for name in db.list_tables().tables}
    present = {name: table.tags.list() for name, table in tables.items()}
    for name, tags in present.items():
        for tag in tags:
            if RESERVED.match(tag) and int(tag[4:]) not in committed:
                tables[name].tags.delete(tag)
    for version in committed:
        tag = version_tag(version)
        if all(tag in tags for tags in present.values()):
            continue
        for name, table_version in _pinned_tables(kb_path, version).items():
            existing = present.get(name, {}).get(tag)
            if existing is not None and existing["version"] == table_version:
                continue
            try:
                tag_table(tables[name], tag, table_version)
            except (KeyError, ValueError, RuntimeError, OSError) as error:
                reason = f"table {name} version {table_version} is gone ({error})"
                result.damaged[version] = reason
                result.notes.append(f"KB version {version} cannot be read any more: {reason}")
                continue
            result.notes.append(f"KB version {version}: re-protected table {name} version {table_version}")
    return result


def unprotected(kb_path: Path, db, versions: list[int]) -> list[str]:
    """Table versions of these KB versions that no ``kb-vN`` tag protects: what cleanup would delete."""
    tags = {name: db.open_table(name).tags.list() for name in db.list_tables().tables}
    missing = []
    for version in versions:
        for name, table_version in _pinned_tables(kb_path, version).items():
            tag = tags.get(name, {}).get(version_tag(version))
            if tag is None or tag["version"] != table_version:
                missing.append(f"KB version {version}: table {name} version {table_version}")
    return missing


def unreadable(kb_path: Path, db, versions: list[int]) -> dict[int, str]:
    """KB versions among these whose pinned table versions can no longer be checked out."""
    tables = {name: db.open_table(name) for name in db.list_tables().tables}
    lost: dict[int, str] = {}
    for version in versions:
        for name, table_version in _pinned_tables(kb_path, version).items():
            try:
                tables[name].checkout(table_version)
            except (KeyError, ValueError, RuntimeError, OSError) as error:
                lost[version] = f"table {name} version {table_version} is gone ({error})"
    for table in tables.values():
        table.checkout_latest()
    return lost
