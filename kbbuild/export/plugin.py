"""Registers the JSON Lines exporter: one chunk per line, with citation metadata."""

from __future__ import annotations

import json
from pathlib import Path

from kbbuild.hookspecs import hookimpl
from kbbuild.providers import Exporter
from kbbuild.store.kb import KB

COLUMNS = ["id", "source", "chunk_index", "text", "heading_path", "pages", "kinds", "n_tokens", "kb_version"]


class JsonlExporter(Exporter):
    name = "jsonl"
    version = "1"
    format = "jsonl"

    def export(self, kb_path: Path, version: int | None, out: Path) -> int:
        kb = KB.open(kb_path)
        manifest = kb.manifest(version)
        table = kb.chunks_table(manifest).to_arrow().select(COLUMNS)
        table = table.sort_by([("source", "ascending"), ("chunk_index", "ascending")])
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as handle:
            for row in table.to_pylist():
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return table.num_rows


@hookimpl
def kbbuild_register_exporters(register) -> None:
    register(JsonlExporter())
