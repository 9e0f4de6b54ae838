"""Registers the structure-following chunker."""

from __future__ import annotations

from kbbuild.chunk.structure import StructureChunking
from kbbuild.config import Settings
from kbbuild.hookspecs import hookimpl
from kbbuild.providers import Chunker
from kbbuild.records import Chunk, Document


class StructureChunker(Chunker):
    name = "structure"
    version = "1"

    def chunk(self, document: Document, settings: Settings) -> list[Chunk]:
        return StructureChunking(document, settings.chunk.max_tokens, settings.chunk.overlap_tokens).run()


@hookimpl
def kbbuild_register_chunkers(register) -> None:
    register(StructureChunker())
