"""Registers the exporters: ``jsonl`` (one chunk per line, with citation metadata) and ``faq``
(one synthetic question per line with the chunk that answers it, for Q&A services)."""

from __future__ import annotations

import json
from pathlib import Path

from kbbuild.errors import KBError
from kbbuild.hookspecs import hookimpl
from kbbuild.providers import Exporter
from kbbuild.store.kb import KB
from kbbuild.store.schema import QUESTIONS_TABLE

COLUMNS = ["id", "source", "chunk_index", "text", "heading_path", "pages", "kinds", "n_tokens", "kb_version"]


class JsonlExporter(Exporter):
    name = "jsonl"
    version = "1"
    format = "jsonl"

    def export(self, kb: KB, version: int | None, out: Path) -> int:
        manifest = kb.manifest(version)
        table = kb.chunks_table(manifest).to_arrow().select(COLUMNS)
        table = table.sort_by([("source", "ascending"), ("chunk_index", "ascending")])
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as handle:
            for row in table.to_pylist():
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return table.num_rows


class FaqExporter(Exporter):
    """Question/answer pairs from the ``questions`` table: each kept synthetic question with its
    score and the chunk (text, source, pages, heading path) it was generated from."""

    name = "faq"
    version = "1"
    format = "faq"

    def export(self, kb: KB, version: int | None, out: Path) -> int:
        manifest = kb.manifest(version)
        if QUESTIONS_TABLE not in manifest.table_versions:
            raise KBError(f"KB version {manifest.kb_version} has no synthetic questions (ingest with --questions N)")
        questions = kb.connect().open_table(QUESTIONS_TABLE)
        questions.checkout(manifest.table_versions[QUESTIONS_TABLE])
        asked = [
            row
            for row in questions.to_arrow().select(["id", "chunk_id", "text", "score", "kept", "generator"]).to_pylist()
            if row["kept"]
        ]
        chunks = {
            row["id"]: row for row in kb.chunks_table(manifest).to_arrow().select(["id", *COLUMNS[1:]]).to_pylist()
        }
        asked.sort(key=lambda q: (chunks[q["chunk_id"]]["source"], chunks[q["chunk_id"]]["chunk_index"], -q["score"]))
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as handle:
            for question in asked:
                chunk = chunks[question["chunk_id"]]
                record = {
                    "question": question["text"],
                    "answer": chunk["text"],
                    "score": round(question["score"], 4),
                    "generator": question["generator"],
                    "chunk_id": chunk["id"],
                    "source": chunk["source"],
                    "pages": chunk["pages"],
                    "heading_path": chunk["heading_path"],
                    "kb_version": manifest.kb_version,
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return len(asked)


@hookimpl
def kbbuild_register_exporters(register) -> None:
    register(JsonlExporter())
    register(FaqExporter())
