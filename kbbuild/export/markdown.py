"""One cleaned Markdown file per document, rebuilt from the stored chunks in reading order.

Headings come back from the chunks' heading paths (a new path opens the levels that changed), tables
are already Markdown inside their chunks, and running headers, footers and page numbers were removed
at ingest. A passage that was stored once for several files (dedup) is written into each file it
came from, from the stored copy, marked by a comment. The folder gets ``index.json``
(schemas/markdown-index.schema.json) listing every file written.
"""

from __future__ import annotations

import json
from pathlib import Path

from kbbuild.errors import KBError
from kbbuild.records import FileStatus, Manifest, MarkdownDocument, MarkdownIndex
from kbbuild.text.printable import printable

COLUMNS = ["id", "source", "chunk_index", "text", "heading_path", "pages"]
LAST = 10**9  # sorts a re-inserted duplicate after the stored chunks of its page


_UNSAFE_PARTS = {"": None, ".": None, "..": "%2E%2E"}


def _target(folder: Path, relpath: str) -> tuple[Path, str]:
    """Where a source's Markdown goes: always inside ``folder``. A source is a relpath from the
    manifest, which a hand-edited or hostile KB can fill with ``../`` or an absolute path; such parts
    are neutralised, and the resolved path is checked (a link inside the folder could still lead out)."""
    parts = [_UNSAFE_PARTS.get(part, part) for part in relpath.replace("\\", "/").split("/")]
    name = "/".join(part for part in parts if part) + ".md"
    path = folder / name
    if not path.resolve().is_relative_to(folder.resolve()):
        raise KBError(f"refusing to write {printable(relpath)!r} outside the export folder {folder}")
    return path, name


def _render(pieces: list[tuple[list[str], str, str | None]]) -> str:
    lines: list[str] = []
    current: list[str] = []
    for heading_path, text, note in pieces:
        if note is None and heading_path != current:
            shared = 0
            while shared < min(len(current), len(heading_path)) and current[shared] == heading_path[shared]:
                shared += 1
            for depth in range(shared, len(heading_path)):
                lines += [f"{'#' * min(depth + 1, 6)} {heading_path[depth]}", ""]
            current = list(heading_path)
        if note:
            lines.append(f"<!-- {note} -->")
        lines += [text.strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def write_markdown(kb, manifest: Manifest, folder: Path) -> MarkdownIndex:
    rows = kb.chunks_table(manifest).to_arrow().select(COLUMNS).to_pylist()
    by_id = {row["id"]: row for row in rows}
    per_source: dict[str, list[tuple]] = {}
    for row in rows:
        first = min(row["pages"]) if row["pages"] else 0
        per_source.setdefault(row["source"], []).append(
            ((first, row["chunk_index"]), row["heading_path"], row["text"], None)
        )
    records = {r.relpath: r for r in manifest.files if r.status in (FileStatus.INGESTED, FileStatus.UNCHANGED)}
    duplicates: dict[str, int] = {}
    for relpath, record in records.items():
        for link in record.duplicates:
            original = by_id.get(link.duplicate_of)
            if original is None:
                continue
            kind = "near-duplicate" if link.near else "duplicate"
            note = f"{kind} of a passage stored once, as chunk {original['chunk_index']} of {original['source']}"
            first = min(link.pages) if link.pages else 0
            per_source.setdefault(relpath, []).append(((first, LAST), [], original["text"], note))
            duplicates[relpath] = duplicates.get(relpath, 0) + 1
    folder.mkdir(parents=True, exist_ok=True)
    documents = []
    for source in sorted(per_source):
        pieces = sorted(per_source[source], key=lambda piece: piece[0])
        path, name = _target(folder, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = records.get(source)
        front = {"source": source, "sha256": record.sha256 if record else None, "kb_version": manifest.kb_version}
        header = "---\n" + "".join(f"{key}: {json.dumps(value, ensure_ascii=False)}\n" for key, value in front.items())
        path.write_text(header + "---\n\n" + _render([p[1:] for p in pieces]), encoding="utf-8")
        documents.append(
            MarkdownDocument(
                source=source,
                path=name,
                sha256=record.sha256 if record else None,
                chunks=sum(p[3] is None for p in pieces),
                duplicates=duplicates.get(source, 0),
                pages=record.pages if record else 0,
            )
        )
    index = MarkdownIndex(kb_version=manifest.kb_version, collection=kb.collection, documents=documents)
    (folder / "index.json").write_text(index.model_dump_json(indent=2), encoding="utf-8")
    return index
