"""Registers the structure-following chunker."""

from __future__ import annotations

from kbbuild.chunk.structure import StructureChunking, TokenCounter
from kbbuild.config import Settings
from kbbuild.hookspecs import hookimpl
from kbbuild.providers import Chunker
from kbbuild.records import Chunk, Document


class StructureChunker(Chunker):
    name = "structure"
    version = "4"

    def chunk(self, document: Document, settings: Settings, count: TokenCounter | None = None) -> list[Chunk]:
        options = settings.chunk
        return StructureChunking(
            document,
            options.max_tokens,
            options.overlap_tokens,
            count=count,
            min_tokens=options.min_tokens,
            reserve_path=options.embed_heading_path,
        ).run()


@hookimpl
def kbbuild_register_chunkers(register) -> None:
    register(StructureChunker())
