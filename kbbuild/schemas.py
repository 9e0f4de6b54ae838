"""JSON Schemas of every record, manifest and config kbbuild writes or reads.

Generated from the pydantic models, so the schema can never drift from the code; ``schemas/`` in
the repository holds the generated files for consumers outside Python, and a test fails when they
are stale (regenerate with ``kbbuild schemas --out schemas``).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, TypeAdapter

from kbbuild.config import Settings
from kbbuild.records import (
    Chunk,
    ChunkRow,
    CollectionInfo,
    Document,
    Element,
    EvalQuestion,
    EvalReport,
    ExportedChunk,
    FaqPair,
    GcReport,
    IngestReport,
    Manifest,
    MarkdownIndex,
    QuestionRow,
    SearchHit,
    VersionDiff,
)

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_MODELS: dict[str, tuple[object, str]] = {
    "config": (Settings, "kbbuild.toml: settings of kbbuild (all keys optional)."),
    "element": (Element, "One block of a parsed document (records.Element)."),
    "document": (Document, "A parsed file (records.Document)."),
    "chunk": (Chunk, "A chunk before embedding (records.Chunk)."),
    "kb-row": (ChunkRow, "A row of the LanceDB 'chunks' table; 'vector' is a fixed-size float32 list."),
    "question-row": (QuestionRow, "A row of the LanceDB 'questions' table (synthetic questions of a chunk)."),
    "version-diff": (VersionDiff, "Output of `kbbuild diff A B --json`: files added, changed, removed."),
    "gc-report": (GcReport, "Output of `kbbuild gc --keep N --json`: versions kept and removed, compaction."),
    "eval-report": (EvalReport, "Output of `kbbuild eval --json`: recall@k and MRR per search configuration."),
    "eval-question": (EvalQuestion, "One line of a `kbbuild eval` question file (shorthand keys also accepted)."),
    "exported-chunk": (ExportedChunk, "One chunk of `kbbuild export --format jsonl|parquet` (a line or a row)."),
    "faq-pair": (FaqPair, "One record of `kbbuild export --format faq` (a JSON line, or a CSV row)."),
    "markdown-index": (MarkdownIndex, "index.json of a `kbbuild export --format markdown` folder."),
    "collections": (list[CollectionInfo], "Output of `kbbuild list --json`: the collections of a KB folder."),
    "manifest": (Manifest, "KB version manifest: KB/versions/NNNNNNNN.json."),
    "ingest-report": (IngestReport, "Output of `kbbuild ingest --json`."),
    "query-results": (list[SearchHit], "Output of `kbbuild query --json`: hits, best first."),
}


def build_schemas() -> dict[str, dict]:
    out = {}
    for name, (model, description) in _MODELS.items():
        if isinstance(model, type) and issubclass(model, BaseModel):
            schema = model.model_json_schema(mode="serialization")
        else:
            schema = TypeAdapter(model).json_schema(mode="serialization")
        schema = {
            "$schema": SCHEMA_DIALECT,
            "$id": f"https://kbbuild.dev/schemas/{name}.schema.json",
            "description": description,
            **{k: v for k, v in schema.items() if k != "description"},
        }
        out[f"{name}.schema.json"] = schema
    return out


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, schema in build_schemas().items():
        path = folder / filename
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
