"""A knowledge base folder: reading versions and searching them.

Layout of a KB folder::

    kbbuild-kb.json      marks the folder as a kbbuild KB (format version)
    lancedb/             the LanceDB database of the default collection (tables ``chunks``, ``questions``)
    versions/NNNNNNNN.json  one manifest per KB version (see ``store.manifest``)
    tags.json            names given to versions (see ``store.tags``)
    .lock                held by the one writer allowed at a time
    .ingest-parts/       the running ingest's spooled parts of large files (emptied by the next writer)
    collections/NAME/    another collection (``--collection NAME``), laid out like the folder itself

A collection is a KB of its own (versions, tags, lock); one folder holds several, the way a company
keeps one KB per department and serves them side by side. The default collection lives at the top
so that a folder written before collections existed stays readable as it is.

Readers always go through a manifest, which names the LanceDB table version to check out; rows
written by an ingest that has not committed (or crashed) are therefore never visible.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from kbbuild.errors import KBError
from kbbuild.records import CollectionInfo, Manifest
from kbbuild.store.commit import recover
from kbbuild.store.manifest import list_versions, read_manifest
from kbbuild.store.schema import CHUNKS_TABLE
from kbbuild.store.tags import check_name, read_tags, tag_table, valid_name, write_tags

MARKER = "kbbuild-kb.json"
DATA_DIR = "lancedb"
LOCK_FILE = ".lock"
PARTS_DIR = ".ingest-parts"
COLLECTIONS_DIR = "collections"
DEFAULT_COLLECTION = "default"
FORMAT = 1


class KB:
    """One collection of a KB folder. Cheap to construct; nothing heavy is loaded until a query needs it."""

    def __init__(self, path: str | Path, collection: str | None = None) -> None:
        self.root = Path(path)
        self.collection = collection or DEFAULT_COLLECTION
        if not valid_name(self.collection):
            raise KBError(
                f"invalid collection name '{self.collection}': start with a letter; letters, digits, '.', '_', '-'"
            )
        if self.collection == DEFAULT_COLLECTION:
            self.path = self.root
        else:
            self.path = self.root / COLLECTIONS_DIR / self.collection

    @property
    def label(self) -> str:
        """How messages name this KB: the folder, and the collection unless it is the default one."""
        if self.collection == DEFAULT_COLLECTION:
            return str(self.root)
        return f"{self.root} (collection {self.collection})"

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, collection: str | None = None) -> KB:
        kb = cls(path, collection)
        if not (kb.root / MARKER).is_file():
            raise KBError(f"no knowledge base at {kb.root} (run `kbbuild ingest DOCS --kb {kb.root}` first)")
        if not kb.path.is_dir():
            known = ", ".join(list_collections(kb.root))
            raise KBError(f"the KB at {kb.root} has no collection '{kb.collection}' (collections: {known})")
        return kb

    @classmethod
    def open_or_create(cls, path: str | Path, collection: str | None = None) -> KB:
        kb = cls(path, collection)
        if not (kb.root / MARKER).is_file():
            if kb.root.exists() and (not kb.root.is_dir() or any(kb.root.iterdir())):
                raise KBError(
                    f"{kb.root} exists and is not a kbbuild KB; refusing to write into it "
                    "(choose an empty or new folder for --kb)"
                )
            kb.root.mkdir(parents=True, exist_ok=True)
            marker = {"format": FORMAT, "created_at": datetime.now(timezone.utc).isoformat()}
            (kb.root / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        kb.path.mkdir(parents=True, exist_ok=True)
        return kb

    # -- versions ----------------------------------------------------------------------------
    def versions(self) -> list[int]:
        return list_versions(self.path)

    def manifest(self, version: int | None = None) -> Manifest:
        versions = self.versions()
        if not versions:
            raise KBError(f"the knowledge base at {self.label} has no committed version yet")
        if version is None:
            version = versions[-1]
        if version not in versions:
            raise KBError(f"KB version {version} does not exist (versions: {_span(versions)})")
        return read_manifest(self.path, version)

    def resolve(self, ref: str | int | None) -> int | None:
        """A version number, a tag name, or None (latest) -> a version number (None = latest)."""
        if ref is None or isinstance(ref, int):
            return ref
        if ref.isdigit():
            return int(ref)
        tags = read_tags(self.path)
        if ref not in tags:
            known = ", ".join(sorted(tags)) or "none"
            raise KBError(f"no KB version is tagged '{ref}' (tags: {known})")
        return tags[ref]

    def tags(self) -> dict[str, int]:
        return read_tags(self.path)

    def tag(self, ref: str | int, name: str, move: bool = False) -> int:
        """Name a version. Moving an existing name needs ``move``: a tag is a promise to readers."""
        check_name(name)
        with self.write_lock():
            version = self.manifest(self.resolve(ref)).kb_version
            tags = read_tags(self.path)
            if name in tags and tags[name] != version and not move:
                raise KBError(f"tag '{name}' already names version {tags[name]} (use --move to move it)")
            db = self.connect()
            recover(self.path, db)
            for table_name, table_version in self.manifest(version).table_versions.items():
                tag_table(db.open_table(table_name), name, table_version)
            tags[name] = version
            write_tags(self.path, tags)
        return version

    def latest_manifest(self) -> Manifest | None:
        versions = self.versions()
        return read_manifest(self.path, versions[-1]) if versions else None

    # -- tables ------------------------------------------------------------------------------
    def parts_folder(self) -> Path:
        """An empty folder for the parse workers' spooled parts (call with the write lock held: what a
        crashed ingest left there is removed)."""
        folder = self.path / PARTS_DIR
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def connect(self):
        import lancedb

        return lancedb.connect(str(self.path / DATA_DIR))

    def chunks_table(self, manifest: Manifest):
        """The chunks table as it was at ``manifest``'s KB version (read-only view)."""
        return pinned_table(self.connect(), CHUNKS_TABLE, manifest)

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """One writer at a time. flock is released by the kernel when the holder dies, so a crashed
        ingest never leaves a stale lock behind."""
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / LOCK_FILE, "a+")  # noqa: SIM115 - held for the whole block
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise KBError(
                    f"another kbbuild process is writing to {self.label} (process {holder}); "
                    "wait for it to finish, then run again"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            handle.close()


def pinned_table(db, name: str, manifest: Manifest):
    """Table ``name`` checked out at the version ``manifest`` pins, or a KBError that says the data of
    that KB version is gone instead of Lance's own error."""
    table = db.open_table(name)
    try:
        table.checkout(manifest.table_versions[name])
    except (ValueError, RuntimeError, OSError) as error:
        raise KBError(
            f"KB version {manifest.kb_version} cannot be read: the data of its {name} table "
            f"(table version {manifest.table_versions[name]}) is gone ({error}). Query another version "
            "(`kbbuild versions`)."
        ) from error
    return table


def list_collections(root: str | Path) -> list[str]:
    """The collections of a KB folder: the default one first, then the named ones alphabetically."""
    folder = Path(root) / COLLECTIONS_DIR
    named = sorted(p.name for p in folder.iterdir() if p.is_dir() and valid_name(p.name)) if folder.is_dir() else []
    return [DEFAULT_COLLECTION, *(name for name in named if name != DEFAULT_COLLECTION)]


def describe_collections(root: str | Path) -> list[CollectionInfo]:
    """What ``kbbuild list`` shows: each collection's latest version, size and model."""
    if not (Path(root) / MARKER).is_file():
        raise KBError(f"no knowledge base at {root} (run `kbbuild ingest DOCS --kb {root}` first)")
    described = []
    for name in list_collections(root):
        kb = KB(root, name)
        latest = kb.latest_manifest()
        names = sorted(tag for tag, version in kb.tags().items() if latest and version == latest.kb_version)
        described.append(
            CollectionInfo(
                name=name,
                path=str(kb.path),
                versions=len(kb.versions()),
                latest_version=latest.kb_version if latest else None,
                updated_at=latest.created_at if latest else None,
                files=(latest.counts.files_ingested + latest.counts.files_unchanged) if latest else 0,
                chunks=latest.counts.chunks_total if latest else 0,
                model=latest.embedding.name if latest else None,
                tags=names,
            )
        )
    return described


def _span(versions: list[int]) -> str:
    return f"{versions[0]}..{versions[-1]}" if versions else "none"
