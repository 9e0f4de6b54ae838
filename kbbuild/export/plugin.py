"""Registers the built-in exporters: ``jsonl`` and ``parquet`` (chunks with citation metadata and,
with --vectors, embeddings), ``faq`` (question/answer pairs, JSON Lines or CSV) and ``markdown``
(one cleaned file per document). Each output is described by a JSON Schema in schemas/."""

from __future__ import annotations

from pathlib import Path

from kbbuild.export.chunks import exported_chunks, write_jsonl, write_parquet
from kbbuild.export.faq import faq_pairs, write_faq
from kbbuild.export.markdown import write_markdown
from kbbuild.hookspecs import hookimpl
from kbbuild.providers import Exporter
from kbbuild.store.kb import KB


class JsonlExporter(Exporter):
    name = "jsonl"
    version = "2"
    format = "jsonl"

    def export(self, kb: KB, version: int | None, out: Path, *, vectors: bool = False) -> int:
        chunks = exported_chunks(kb, kb.manifest(version), vectors)
        write_jsonl(chunks, out)
        return len(chunks)


class ParquetExporter(Exporter):
    name = "parquet"
    version = "1"
    format = "parquet"

    def export(self, kb: KB, version: int | None, out: Path, *, vectors: bool = False) -> int:
        manifest = kb.manifest(version)
        chunks = exported_chunks(kb, manifest, vectors)
        write_parquet(chunks, out, manifest.embedding.dim if vectors else None)
        return len(chunks)


class FaqExporter(Exporter):
    name = "faq"
    version = "2"
    format = "faq"

    def export(self, kb: KB, version: int | None, out: Path, *, vectors: bool = False) -> int:
        pairs = faq_pairs(kb, kb.manifest(version))
        write_faq(pairs, out)
        return len(pairs)


class MarkdownExporter(Exporter):
    name = "markdown"
    version = "1"
    format = "markdown"

    def export(self, kb: KB, version: int | None, out: Path, *, vectors: bool = False) -> int:
        return len(write_markdown(kb, kb.manifest(version), out).documents)


@hookimpl
def kbbuild_register_exporters(register) -> None:
    for exporter in (JsonlExporter(), ParquetExporter(), FaqExporter(), MarkdownExporter()):
        register(exporter)
