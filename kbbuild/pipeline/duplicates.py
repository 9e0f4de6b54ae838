"""The duplicate stage: owns the index of stored chunk texts and turns repeats into links.

It runs in the driver, on files in plan order, whatever order the parse workers finished in: the
first occurrence (by relpath, then chunk order) is the one stored, so the same input gives the
same rows whatever the worker count. The index starts from the stored chunks of the files this run
keeps; a file's additions are taken back if the file fails later (in embedding), so nothing links
to a chunk that was never written.
"""

from __future__ import annotations

from kbbuild.clean.dedup import DuplicateIndex
from kbbuild.config import CleanSettings
from kbbuild.records import Chunk, DuplicateLink, Manifest
from kbbuild.store.kb import KB


class DuplicateStage:
    def __init__(self, settings: CleanSettings) -> None:
        self.index: DuplicateIndex | None = None
        if settings.dedup != "off":
            self.index = DuplicateIndex(near=settings.dedup == "near", threshold=settings.near_duplicate_jaccard)
        self._added: dict[str, list[str]] = {}  # relpath -> chunk ids it put in the index

    def load_stored(self, kb: KB, previous: Manifest | None, keep: set[str]) -> None:
        """Index the stored chunks of the files this run keeps, so that new files link to them."""
        if self.index is None or previous is None or not keep:
            return
        table = kb.chunks_table(previous)
        rows = table.search().select(["id", "source", "chunk_index", "text"]).limit(table.count_rows()).to_list()
        for row in sorted(rows, key=lambda r: (r["source"], r["chunk_index"])):
            if row["source"] in keep:
                self.index.add(row["id"], row["source"], row["text"])

    def admit(self, relpath: str, chunks: tuple[Chunk, ...]) -> tuple[list[Chunk], list[DuplicateLink]]:
        """The chunks to store, and links for those whose text is already stored (by an earlier
        file, version or chunk)."""
        if self.index is None:
            return list(chunks), []
        kept: list[Chunk] = []
        links: list[DuplicateLink] = []
        added = self._added.setdefault(relpath, [])
        for chunk in chunks:
            match = self.index.match(chunk.text)
            if match is None:
                kept.append(chunk)
                self.index.add(chunk.id, chunk.source, chunk.text)
                added.append(chunk.id)
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

    def forget(self, relpath: str) -> None:
        """Take back what a file that failed after ``admit`` added to the index."""
        if self.index is not None:
            self.index.remove(self._added.pop(relpath, []))

    def settle(self, relpath: str) -> None:
        """The file's rows are written: its additions stay for good."""
        self._added.pop(relpath, None)
