"""Writes one new KB version: add rows, then delete superseded rows, then commit the manifest.

The order matters. New rows go in first and old ones are deleted after, so at no point does a
table lack a file's content; LanceDB records each step as a table version, and only the manifest
written last makes the result visible (see ``store.manifest``). Leftovers of an ingest that died
before its manifest are rolled back when the next writer starts. A KB version spans several tables
(``chunks``, and ``questions`` once questions are generated); the manifest pins each one's version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from kbbuild.records import ChunkRow, EmbeddingModelInfo, Manifest, QuestionRow
from kbbuild.store.commit import commit_version, recover
from kbbuild.store.indexes import build_full_text_index, has_full_text_index, maintain_vector_index
from kbbuild.store.kb import KB
from kbbuild.store.schema import (
    CHUNKS_TABLE,
    QUESTIONS_TABLE,
    chunks_schema,
    questions_schema,
    rows_to_table,
)
from kbbuild.store.staging import StagingTarget, append_staged

if TYPE_CHECKING:
    from kbbuild.config import IndexSettings


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class _Spec:
    name: str
    schema: Callable[[int], pa.Schema]


_SPECS = {CHUNKS_TABLE: _Spec(CHUNKS_TABLE, chunks_schema), QUESTIONS_TABLE: _Spec(QUESTIONS_TABLE, questions_schema)}


class _TableWriter:
    """One table's part of an ingest: back to its committed version first, then appends and deletes."""

    def __init__(
        self, db, spec: _Spec, dim: int, committed: int | None, rebuild: bool, notes: list[str], batch_rows: int
    ) -> None:
        self.spec = spec
        self.dim = dim
        self.batch_rows = batch_rows
        self.pending: list = []
        self.staged: list = []  # fragments written elsewhere (store.staging), committed by commit_staged
        self.after_staged: list[str] = []  # deletes that must also reach the staged rows, once committed
        self.added = 0
        self.removed = 0
        schema = spec.schema(dim)
        if spec.name not in db.list_tables().tables:
            self.table = db.create_table(spec.name, schema=schema)
            return
        table = db.open_table(spec.name)
        if committed is None:  # the current KB version has no such table: start it afresh
            if table.count_rows():  # older KB versions keep reading their rows through their tags
                notes.append(f"started the {spec.name} table afresh (the current KB version has none)")
            self.table = db.create_table(spec.name, schema=schema, mode="overwrite")
            return
        if table.version != committed:
            notes.append(
                f"rolled back {spec.name} table writes of an ingest that did not commit "
                f"(table version {table.version} -> {committed})"
            )
            table.restore(committed)
        self.table = db.create_table(spec.name, schema=schema, mode="overwrite") if rebuild else table

    def add(self, rows: Iterable) -> None:
        self.pending.extend(rows)
        if len(self.pending) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.table.add(rows_to_table(self.pending, self.spec.schema(self.dim)))
            self.added += len(self.pending)
            self.pending = []

    def discard(self, source: str, version: int) -> None:
        """Take back this version's rows of one file, buffered, already appended or staged."""
        kept = [row for row in self.pending if row.source != source]
        self.pending = kept
        predicate = f"source = {_quote(source)} AND kb_version = {version}"
        self.after_staged.append(predicate)
        before = self.table.count_rows()
        self.table.delete(predicate)
        self.added -= before - self.table.count_rows()

    def drop_staged(self, ids: list[str], version: int) -> None:
        """Rows of these chunks were staged but must not stay (the duplicate index linked them)."""
        for start in range(0, len(ids), 500):
            batch = ", ".join(_quote(i) for i in ids[start : start + 500])
            self.after_staged.append(f"id IN ({batch}) AND kb_version = {version}")

    def commit_staged(self) -> None:
        """Append the staged fragments in one commit, then apply the deletes meant for their rows."""
        if not self.staged:
            return
        before = self.table.count_rows()
        append_staged(self.table, self.staged)
        self.staged = []
        for predicate in self.after_staged:
            self.table.delete(predicate)
        self.after_staged = []
        self.added += self.table.count_rows() - before

    def remove_older_rows(self, sources: list[str], version: int) -> None:
        for start in range(0, len(sources), 200):
            batch = ", ".join(_quote(s) for s in sources[start : start + 200])
            before = self.table.count_rows()
            self.table.delete(f"source IN ({batch}) AND kb_version < {version}")
            self.removed += before - self.table.count_rows()


class KBWriter:
    def __init__(
        self,
        kb: KB,
        previous: Manifest | None,
        embedding: EmbeddingModelInfo,
        rebuild: bool,
        batch_rows: int = 2000,
    ) -> None:
        self.kb = kb
        self.batch_rows = batch_rows
        self.previous = previous
        self.dim = embedding.dim
        self.rebuild = rebuild
        self.version = (previous.kb_version + 1) if previous else 1
        self.notes: list[str] = []
        self._db = kb.connect()
        self.notes.extend(recover(kb.path, self._db).notes)
        self._tables: dict[str, _TableWriter] = {}
        self._open(CHUNKS_TABLE)
        for name in previous.table_versions if previous else ():
            if name in _SPECS:  # tables of the last version carry on, even if this run adds nothing
                self._open(name)

    def _open(self, name: str) -> _TableWriter:
        if name not in self._tables:
            committed = self.previous.table_versions.get(name) if self.previous else None
            self._tables[name] = _TableWriter(
                self._db, _SPECS[name], self.dim, committed, self.rebuild, self.notes, self.batch_rows
            )
        return self._tables[name]

    @property
    def rows_added(self) -> int:
        return self._tables[CHUNKS_TABLE].added

    @property
    def rows_removed(self) -> int:
        return self._tables[CHUNKS_TABLE].removed

    @property
    def questions_added(self) -> int:
        return self._tables[QUESTIONS_TABLE].added if QUESTIONS_TABLE in self._tables else 0

    def add(self, rows: Iterable[ChunkRow]) -> None:
        self._tables[CHUNKS_TABLE].add(rows)

    def add_questions(self, rows: Iterable[QuestionRow]) -> None:
        self._open(QUESTIONS_TABLE).add(rows)

    def flush(self) -> None:
        for table in self._tables.values():
            table.flush()
            table.commit_staged()

    def staging_target(self, storage_options: dict[str, str] | None = None) -> StagingTarget:
        """Where other processes may write this version's chunk rows (see ``store.staging``)."""
        return StagingTarget(self._tables[CHUNKS_TABLE].table.to_lance().uri, self.dim, self.version, storage_options)

    def stage(self, fragments: list) -> None:
        """Chunk rows written elsewhere, to be committed with this version's other rows."""
        self._tables[CHUNKS_TABLE].staged.extend(fragments)

    def drop_staged(self, chunk_ids: list[str]) -> None:
        if chunk_ids:
            self._tables[CHUNKS_TABLE].drop_staged(chunk_ids, self.version)

    def discard(self, source: str) -> None:
        """Take back the rows this run wrote for a file that failed after some of them were written (a
        file sent in parts): the file's rows from the previous version are then all that remain."""
        for table in self._tables.values():
            table.discard(source, self.version)

    def remove_older_rows(self, sources: Iterable[str]) -> None:
        """Delete rows of these files written by earlier versions (the new ones stay), in every table."""
        ordered = sorted(set(sources))
        for table in self._tables.values():
            table.remove_older_rows(ordered, self.version)

    def total_rows(self) -> int:
        return self._tables[CHUNKS_TABLE].table.count_rows()

    def build_indexes(self, settings: IndexSettings) -> list[str]:
        """(Re)build the full-text index of each table this run changed (or that lacks one), and keep
        the ANN index in step with the table size; return notes on what the ANN upkeep did."""
        self.flush()
        notes = []
        for name, writer in self._tables.items():
            stale = writer.added or writer.removed or not has_full_text_index(writer.table)
            if stale and writer.table.count_rows():
                build_full_text_index(writer.table)
            done = maintain_vector_index(writer.table, settings)
            if done:
                notes.append(f"{name}: {done}")
        return notes

    def table_versions(self) -> dict[str, int]:
        self.flush()
        return {name: table.table.version for name, table in self._tables.items()}

    def commit(self, manifest: Manifest) -> None:
        """Tag each table version ``kb-vN`` (so cleanup never removes it and Lance tools can check a
        KB version out by name), then write the manifest: see ``store.commit``."""
        commit_version(self.kb.path, self._db, manifest)
