"""Chunks of one KB version as records (``ExportedChunk``), and the JSON Lines and Parquet writers.

Both formats carry the same fields, described by schemas/exported-chunk.schema.json; Parquet keeps
list columns as Arrow lists and the vector as a fixed-size float32 list, so pandas, DuckDB, Spark or
another LanceDB read it without conversion.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kbbuild.records import AlsoIn, ExportedChunk, Manifest

COLUMNS = ["id", "source", "chunk_index", "text", "heading_path", "pages", "kinds", "n_tokens", "kb_version"]


def also_in_map(manifest: Manifest) -> dict[str, list[AlsoIn]]:
    places: dict[str, list[AlsoIn]] = {}
    for record in manifest.files:
        for link in record.duplicates:
            places.setdefault(link.duplicate_of, []).append(
                AlsoIn(source=record.relpath, pages=link.pages, near=link.near)
            )
    return places


def exported_chunks(kb, manifest: Manifest, vectors: bool) -> list[ExportedChunk]:
    table = kb.chunks_table(manifest).to_arrow()
    optional = [name for name in ("document",) if name in table.schema.names]  # absent in older KBs
    table = table.select([*COLUMNS, *optional, *(["vector"] if vectors else [])])
    table = table.sort_by([("source", "ascending"), ("chunk_index", "ascending")])
    places = also_in_map(manifest)
    return [
        ExportedChunk(**row, collection=kb.collection, also_in=places.get(row["id"], [])) for row in table.to_pylist()
    ]


def write_jsonl(chunks: list[ExportedChunk], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(chunk.model_dump_json() + "\n")


def write_parquet(chunks: list[ExportedChunk], out: Path, dim: int | None) -> None:
    also_in = pa.list_(pa.struct([("source", pa.string()), ("pages", pa.list_(pa.int32())), ("near", pa.bool_())]))
    fields = [
        ("id", pa.string()),
        ("source", pa.string()),
        ("chunk_index", pa.int32()),
        ("text", pa.string()),
        ("heading_path", pa.list_(pa.string())),
        ("document", pa.string()),
        ("pages", pa.list_(pa.int32())),
        ("kinds", pa.list_(pa.string())),
        ("n_tokens", pa.int32()),
        ("kb_version", pa.int32()),
        ("collection", pa.string()),
        ("also_in", also_in),
        ("vector", pa.list_(pa.float32(), dim) if dim else pa.null()),
    ]
    schema = pa.schema(fields, metadata={"kbbuild.schema": "exported-chunk.schema.json"})
    rows = [json.loads(chunk.model_dump_json()) for chunk in chunks]
    table = pa.Table.from_pylist(rows, schema=schema)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)
