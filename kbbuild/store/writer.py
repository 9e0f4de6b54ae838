"""Writes one new KB version: add rows, then delete superseded rows, then commit the manifest.

The order matters. New rows go in first and old ones are deleted after, so at no point does the
table lack a file's content; LanceDB records each step as a table version, and only the manifest
written last makes the result visible (see ``store.manifest``). Leftovers of an ingest that died
before its manifest are rolled back when the next writer starts.
"""

from __future__ import annotations

from collections.abc import Iterable

from kbbuild.records import ChunkRow, EmbeddingModelInfo, Manifest
from kbbuild.store.kb import KB
from kbbuild.store.manifest import write_manifest
from kbbuild.store.schema import CHUNKS_TABLE, chunks_schema, rows_to_table

FLUSH_ROWS = 2000


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class KBWriter:
    def __init__(self, kb: KB, previous: Manifest | None, embedding: EmbeddingModelInfo, rebuild: bool) -> None:
        self.kb = kb
        self.previous = previous
        self.dim = embedding.dim
        self.version = (previous.kb_version + 1) if previous else 1
        self.notes: list[str] = []
        self._pending: list[ChunkRow] = []
        self.rows_added = 0
        self.rows_removed = 0
        self._table = self._prepare(rebuild)

    def _prepare(self, rebuild: bool):
        db = self.kb.connect()
        schema = chunks_schema(self.dim)
        if CHUNKS_TABLE not in db.list_tables().tables:
            return db.create_table(CHUNKS_TABLE, schema=schema)
        table = db.open_table(CHUNKS_TABLE)
        if self.previous is None:
            if table.count_rows():
                self.notes.append("discarded rows of an earlier ingest that never committed")
            return db.create_table(CHUNKS_TABLE, schema=schema, mode="overwrite")
        committed = self.previous.table_versions[CHUNKS_TABLE]
        if table.version != committed:
            self.notes.append(
                f"rolled back table writes of an ingest that did not commit "
                f"(table version {table.version} -> {committed})"
            )
            table.restore(committed)
        if rebuild:
            return db.create_table(CHUNKS_TABLE, schema=schema, mode="overwrite")
        return table

    def add(self, rows: Iterable[ChunkRow]) -> None:
        self._pending.extend(rows)
        if len(self._pending) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._table.add(rows_to_table(self._pending, self.dim))
            self.rows_added += len(self._pending)
            self._pending = []

    def remove_older_rows(self, sources: Iterable[str]) -> None:
        """Delete rows of these files written by earlier versions (the new ones stay)."""
        sources = sorted(set(sources))
        for start in range(0, len(sources), 200):
            batch = ", ".join(_quote(s) for s in sources[start : start + 200])
            predicate = f"source IN ({batch}) AND kb_version < {self.version}"
            before = self._table.count_rows()
            self._table.delete(predicate)
            self.rows_removed += before - self._table.count_rows()

    def total_rows(self) -> int:
        return self._table.count_rows()

    def table_version(self) -> int:
        self.flush()
        return self._table.version

    def commit(self, manifest: Manifest) -> None:
        """Write the manifest (the commit), then tag the table version ``kb-vN`` in LanceDB so other
        Lance tools can check out a KB version by name and cleanup never removes it."""
        write_manifest(self.kb.path, manifest)
        tag = version_tag(manifest.kb_version)
        if tag in self._table.tags.list():  # left by a run that died between manifest and tag
            self._table.tags.update(tag, manifest.table_versions[CHUNKS_TABLE])
        else:
            self._table.tags.create(tag, manifest.table_versions[CHUNKS_TABLE])


def version_tag(kb_version: int) -> str:
    return f"kb-v{kb_version}"
