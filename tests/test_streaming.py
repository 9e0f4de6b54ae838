"""Large-but-legal files are streamed: a text or Markdown file over ``LARGE_TEXT_BYTES`` is read
block by block and chunked window by window, its parts travel to the driver through the spool, and
the rows are the same as if the file had been read whole (ids, positions, heading paths), whichever
way it was read. A worker that dies half-way leaves no rows of the new version behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kbbuild.errors import InputError
from kbbuild.faults import CRASH_ENV
from kbbuild.parse.markup.plaintext import LARGE_TEXT_BYTES, PARAGRAPH_CHARS, read_text
from kbbuild.parse.windows import document_windows
from kbbuild.records import ElementKind, SourceFile
from kbbuild.store.kb import KB, PARTS_DIR

REPEATED = (
    "Pilots board inbound vessels at the outer anchorage and stay on the bridge until the lines are "
    "made fast; the duty roster is posted at the harbour office every Friday afternoon. "
) * 12


def _elements(path: Path, fmt: str) -> tuple[list, list[str]]:
    warnings: list[str] = []
    return list(read_text(path, fmt, "unstructured", warnings)), warnings


def test_a_line_with_no_end_becomes_paragraphs_cut_at_spaces(tmp_path):
    path = tmp_path / "line.txt"
    words = "harbour crane berth pilot tariff "
    path.write_text(words * 40_000)  # 1.3 MB, one line
    elements, warnings = _elements(path, "txt")
    assert len(elements) > 10
    assert all(len(e.text) <= PARAGRAPH_CHARS for e in elements)
    assert all(e.text.split()[0] == "harbour" or e is elements[0] for e in elements), "cut mid-word"
    assert " ".join(e.text for e in elements).split() == (words * 40_000).split()
    assert warnings == []


def test_markdown_structure_survives_streaming(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(
        "# Port handbook\n\nIntro paragraph\nwrapped over two lines.\n\n## Berths\n\n- berth one\n- berth two\n\n"
        "```\ncode # not a heading\n\n```\n\n### Cranes ###\n\n港务局\n第三季度报告\n"
    )
    elements, _ = _elements(path, "md")
    got = [(e.kind, e.level, e.text) for e in elements]
    assert got == [
        (ElementKind.HEADING, 1, "Port handbook"),
        (ElementKind.PARAGRAPH, None, "Intro paragraph wrapped over two lines."),
        (ElementKind.HEADING, 2, "Berths"),
        (ElementKind.LIST_ITEM, None, "- berth one"),
        (ElementKind.LIST_ITEM, None, "- berth two"),
        (ElementKind.CODE, None, "code # not a heading\n"),
        (ElementKind.HEADING, 3, "Cranes"),
        (ElementKind.PARAGRAPH, None, "港务局第三季度报告"),  # Chinese lines join without a space
    ]


def test_encodings_are_detected_once_and_bad_bytes_are_counted(tmp_path):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes(("港务局第三季度报告：疏浚工程按计划完成。\n\n" * 2000).encode("gbk"))
    elements, warnings = _elements(gbk, "txt")
    assert elements[0].text == "港务局第三季度报告：疏浚工程按计划完成。"
    assert warnings == []
    mixed = tmp_path / "mixed.txt"
    mixed.write_bytes(b"plain ascii line\n\n" * 5000 + b"\xff\xfe broken \xc3\n")
    elements, warnings = _elements(mixed, "txt")
    assert "\ufffd" in elements[-1].text
    assert warnings and "replaced with U+FFFD" in warnings[0] and warnings[0].startswith("3 ")
    utf16 = tmp_path / "utf16.txt"
    utf16.write_text("Tariff notice\n\nBerth 4 reopens.\n", encoding="utf-16")
    assert [e.text for e in _elements(utf16, "txt")[0]] == ["Tariff notice", "Berth 4 reopens."]


def test_binary_named_text_is_refused(tmp_path):
    path = tmp_path / "garbage.md"
    path.write_bytes(os.urandom(200_000))
    with pytest.raises(InputError, match="not text"):
        _elements(path, "md")


def _source(path: Path) -> SourceFile:
    return SourceFile(path=str(path), relpath=path.name, format="md", size=path.stat().st_size, sha256="0" * 64)


def test_windows_carry_the_title_and_open_headings(tmp_path):
    path = tmp_path / "book.md"
    path.write_text("# Handbook\n\n## Pilots\n\n" + (REPEATED + "\n\n") * 30 + "## Cranes\n\nLast words.\n")
    warnings: list[str] = []
    windows_seen: list[int] = []
    elements = read_text(path, "md", "unstructured", warnings)
    documents = list(document_windows(_source(path), "unstructured", elements, warnings, windows_seen.append, 10_000))
    assert len(documents) > 3 and windows_seen == list(range(1, len(documents) + 1))
    second = documents[1].elements
    assert [(e.text, e.meta.get("carried")) for e in second[:2]] == [("Handbook", True), ("Pilots", True)]
    last = documents[-1].elements
    assert "Cranes" in [e.text for e in last if e.kind is ElementKind.HEADING]


def test_a_stream_without_text_is_refused(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\n \n\t\n" * 100)
    elements = read_text(path, "txt", "unstructured", [])
    with pytest.raises(InputError, match="no text found"):
        list(document_windows(_source(path), "unstructured", elements, [], lambda _n: None))


# -- end to end ------------------------------------------------------------------------------------


def _big_markdown(path: Path) -> list[int]:
    """Over ``LARGE_TEXT_BYTES``: sections of one repeated paragraph (duplicates: cheap to embed) and,
    every 400th section, a notice found nowhere else. Returns the numbers of those sections."""
    unique = []
    with path.open("w", encoding="utf-8") as out:
        out.write("# Port handbook\n\n")
        section = 0
        while out.tell() < LARGE_TEXT_BYTES + 400_000:
            out.write(f"## Section {section}\n\n{REPEATED}\n\n")
            if section % 400 == 0:
                unique.append(section)
                out.write(f"Tariff notice {section}: berth {section} charges {section * 3} dollars a day.\n\n")
            section += 1
    return unique


def _kbbuild(*args: object, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kbbuild", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=900,
    )


def _rows(kb: Path) -> list[dict]:
    store = KB.open(kb)
    table = store.chunks_table(store.latest_manifest())
    return (
        table.search()
        .select(["id", "source", "chunk_index", "text", "heading_path", "kb_version"])
        .limit(table.count_rows())
        .to_list()
    )


@pytest.mark.slow
def test_a_large_markdown_file_is_streamed_with_the_rows_of_a_whole_read(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    unique = _big_markdown(docs / "handbook.md")
    (docs / "note.txt").write_text("Berth 4 reopens on Monday after the crane inspection.")
    pooled = _kbbuild("ingest", docs, "--kb", tmp_path / "pooled", "--no-progress", "--workers", "2")
    assert pooled.returncode == 0, pooled.stderr
    inline = _kbbuild("ingest", docs, "--kb", tmp_path / "inline", "--no-progress", "--workers", "0")
    assert inline.returncode == 0, inline.stderr
    rows = sorted(_rows(tmp_path / "pooled"), key=lambda r: (r["source"], r["chunk_index"]))
    assert [(r["id"], r["chunk_index"], r["text"], r["heading_path"]) for r in rows] == [
        (r["id"], r["chunk_index"], r["text"], r["heading_path"])
        for r in sorted(_rows(tmp_path / "inline"), key=lambda r: (r["source"], r["chunk_index"]))
    ]
    book = [r for r in rows if r["source"] == "handbook.md"]
    assert len({r["id"] for r in book}) == len(book)
    notices = {}
    for row in book:
        if found := re.search(r"Tariff notice (\d+):", row["text"]):
            notices[int(found.group(1))] = list(row["heading_path"])
    # Found in every window, under the title carried into it (and under its section's heading, unless
    # the notice was too short to stand alone and joined the next section, whose heading is then in its text).
    assert sorted(notices) == unique
    for section, path in notices.items():
        assert path in (["Port handbook", f"Section {section}"], ["Port handbook"]), (section, path)
    manifest = KB.open(tmp_path / "pooled").latest_manifest()
    record = next(f for f in manifest.files if f.relpath == "handbook.md")
    assert record.chunks == len(book) and record.cleaning.duplicates_exact > 1000
    assert not (tmp_path / "pooled" / PARTS_DIR).exists()


@pytest.mark.slow
def test_a_worker_dying_half_way_through_a_streamed_file_leaves_the_previous_rows(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    _big_markdown(docs / "handbook.md")
    (docs / "note.txt").write_text("Berth 4 reopens on Monday after the crane inspection.")
    kb = tmp_path / "kb"
    first = _kbbuild("ingest", docs, "--kb", kb, "--no-progress")
    assert first.returncode == 0, first.stderr
    before = sorted((r["id"], r["kb_version"]) for r in _rows(kb) if r["source"] == "handbook.md")
    with (docs / "handbook.md").open("a") as out:
        out.write("## Addendum\n\nBerth 9 is closed for dredging until March.\n")
    (docs / "note.txt").write_text("Berth 4 reopens on Tuesday after the crane inspection.")
    killed = _kbbuild("ingest", docs, "--kb", kb, "--no-progress", "--json", env={CRASH_ENV: "part 3 of handbook.md"})
    assert killed.returncode == 1, killed.stderr  # partial failure: the note is still committed
    assert "handbook.md" in killed.stdout and "died" in killed.stdout
    after = _rows(kb)
    assert sorted((r["id"], r["kb_version"]) for r in after if r["source"] == "handbook.md") == before
    assert [r["text"] for r in after if r["source"] == "note.txt"] == [
        "Berth 4 reopens on Tuesday after the crane inspection."
    ]
    assert not (kb / PARTS_DIR).exists()
