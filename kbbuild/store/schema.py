"""The Arrow schemas of the KB's tables, kept in step with ``records.ChunkRow`` and ``QuestionRow``."""

from __future__ import annotations

import json

import pyarrow as pa

from kbbuild.records import Chunk, ChunkRow
from kbbuild.text.segment import search_text

CHUNKS_TABLE = "chunks"
QUESTIONS_TABLE = "questions"


def chunks_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("source_sha256", pa.string(), nullable=False),
            pa.field("chunk_index", pa.int32(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("heading_path", pa.list_(pa.string())),
            pa.field("document", pa.string()),
            pa.field("pages", pa.list_(pa.int32())),
            pa.field("page_start", pa.int32()),
            pa.field("page_end", pa.int32()),
            pa.field("kinds", pa.list_(pa.string())),
            pa.field("n_tokens", pa.int32()),
            pa.field("parser", pa.string()),
            pa.field("meta_json", pa.string()),
            pa.field("search_text", pa.string(), nullable=False),
            pa.field("kb_version", pa.int32(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
        ]
    )


def questions_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("chunk_id", pa.string(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("score", pa.float32(), nullable=False),
            pa.field("kept", pa.bool_(), nullable=False),
            pa.field("dropped", pa.string(), nullable=False),
            pa.field("generator", pa.string(), nullable=False),
            pa.field("search_text", pa.string(), nullable=False),
            pa.field("kb_version", pa.int32(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
        ]
    )


def to_rows(chunks: list[Chunk], vectors, parser: str, kb_version: int) -> list[ChunkRow]:
    return [
        ChunkRow(
            id=chunk.id,
            source=chunk.source,
            source_sha256=chunk.source_sha256,
            chunk_index=chunk.chunk_index,
            text=chunk.text,
            heading_path=list(chunk.heading_path),
            document=chunk.document,
            pages=list(chunk.pages),
            page_start=min(chunk.pages) if chunk.pages else None,
            page_end=max(chunk.pages) if chunk.pages else None,
            kinds=[kind.value for kind in chunk.kinds],
            n_tokens=chunk.n_tokens,
            parser=parser,
            meta_json=json.dumps(chunk.meta, ensure_ascii=False, sort_keys=True),
            search_text=search_text(chunk.search_words()),
            kb_version=kb_version,
            vector=vector.tolist(),
        )
        for chunk, vector in zip(chunks, vectors, strict=True)
    ]


def rows_to_table(rows: list, schema: pa.Schema) -> pa.Table:
    columns = {name: [getattr(row, name) for row in rows] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)
