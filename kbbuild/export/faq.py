"""Question/answer pairs for FAQ systems: each kept synthetic question with the chunk it came from.

JSON Lines by default; a ``.csv`` output gets CSV with the same columns (lists joined by " > " for
the heading path and "," for pages), which is what most FAQ importers take.
"""

from __future__ import annotations

import csv
from pathlib import Path

from kbbuild.errors import KBError
from kbbuild.records import FaqPair, Manifest
from kbbuild.store.kb import pinned_table
from kbbuild.store.schema import QUESTIONS_TABLE

CHUNK_COLUMNS = ["id", "source", "chunk_index", "text", "heading_path", "pages"]


def faq_pairs(kb, manifest: Manifest) -> list[FaqPair]:
    if QUESTIONS_TABLE not in manifest.table_versions:
        raise KBError(f"KB version {manifest.kb_version} has no synthetic questions (ingest with --questions N)")
    questions = pinned_table(kb.connect(), QUESTIONS_TABLE, manifest)
    columns = ["chunk_id", "text", "score", "kept", "generator"]
    asked = [row for row in questions.to_arrow().select(columns).to_pylist() if row["kept"]]
    chunks = {row["id"]: row for row in kb.chunks_table(manifest).to_arrow().select(CHUNK_COLUMNS).to_pylist()}
    asked.sort(key=lambda q: (chunks[q["chunk_id"]]["source"], chunks[q["chunk_id"]]["chunk_index"], -q["score"]))
    return [
        FaqPair(
            question=q["text"],
            answer=chunks[q["chunk_id"]]["text"],
            score=round(q["score"], 4),
            generator=q["generator"],
            chunk_id=q["chunk_id"],
            source=chunks[q["chunk_id"]]["source"],
            pages=chunks[q["chunk_id"]]["pages"],
            heading_path=chunks[q["chunk_id"]]["heading_path"],
            kb_version=manifest.kb_version,
        )
        for q in asked
    ]


def write_faq(pairs: list[FaqPair], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() != ".csv":
        with out.open("w", encoding="utf-8") as handle:
            for pair in pairs:
                handle.write(pair.model_dump_json() + "\n")
        return
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(FaqPair.model_fields))
        for pair in pairs:
            row = pair.model_dump()
            row["pages"] = ",".join(map(str, pair.pages))
            row["heading_path"] = " > ".join(pair.heading_path)
            writer.writerow([row[name] for name in FaqPair.model_fields])
