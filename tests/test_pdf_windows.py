"""Long PDFs are read in windows of pages (``[parse] pdf_window_pages``): a worker holds one window at a
time, and the rows are those of a whole read wherever a window's cut does not split a chunk: the same
ids, texts, heading paths and identity; the title and the headings open at a cut carry over, and the
font statistics that decide headings are the document's, not one window's."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kbbuild.config import Settings
from kbbuild.parse.pdf.plugin import PdfParser
from kbbuild.parse.windows import page_windows
from kbbuild.pipeline.prepare import PrepareTools, prepare, prepare_parts
from kbbuild.providers import ParseContext
from kbbuild.records import ElementKind, SourceFile
from kbbuild.store.kb import KB
from tests.pdfmaker import long_report_pdf

PAGES = 120  # sections of 10 pages; windows of 50 pages at most make 3 of 40: cuts between sections


def test_page_windows_are_as_even_as_can_be():
    assert page_windows(120, 50) == [(1, 40), (41, 80), (81, 120)]
    assert page_windows(101, 50) == [(1, 34), (35, 67), (68, 101)]
    assert page_windows(7, 500) == [(1, 7)]
    windows = page_windows(10_000, 500)
    assert len(windows) == 20 and windows[-1][1] == 10_000
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(windows))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[SourceFile, Path]:
    folder = tmp_path_factory.mktemp("long")
    path = long_report_pdf(folder / "manual.pdf", PAGES)
    source = SourceFile(path=str(path), relpath=path.name, sha256="-", size=path.stat().st_size, format="pdf")
    return source, folder


def _settings(window_pages: int) -> Settings:
    settings = Settings()
    settings.parse.pdf_window_pages = window_pages
    settings.parse.workers = 1
    return settings


def test_a_long_pdf_is_read_in_windows_that_carry_what_a_cut_would_lose(report):
    source, _ = report
    settings = _settings(50)
    tools = PrepareTools.load(settings)
    documents = list(PdfParser().parse_windows(source, ParseContext(settings, lambda _p: None, tools.registry)))
    assert [(d.window, d.continues, len(d.pages)) for d in documents] == [(0, True, 40), (1, True, 40), (2, False, 40)]
    assert {d.title for d in documents} == {"Operations Manual"}
    carried = [(e.text, e.level) for e in documents[1].elements if e.meta.get("carried")]
    assert carried == [("Chapter 1: Terminal 1", 2), ("Berth group 4", 3)]
    # Heading levels are the document's: the chapter size first seen on page 1 still ranks above sections.
    third = [(e.text, e.level) for e in documents[2].elements if e.kind is ElementKind.HEADING]
    assert ("Chapter 3: Terminal 3", 2) in third and ("Berth group 11", 3) in third


def test_windowed_rows_are_the_rows_of_a_whole_read(report):
    source, _ = report
    whole = prepare(source, PrepareTools.load(_settings(10_000)))
    parts = list(prepare_parts(source, PrepareTools.load(_settings(50))))
    assert [p.part for p in parts] == [True, True, False]
    windowed = prepare(source, PrepareTools.load(_settings(50)))
    assert whole.error is None and windowed.error is None
    assert windowed.pages == whole.pages == PAGES
    key = [(c.id, c.chunk_index, c.text, c.heading_path, c.document, c.pages) for c in whole.chunks]
    assert [(c.id, c.chunk_index, c.text, c.heading_path, c.document, c.pages) for c in windowed.chunks] == key
    # Every section keeps its heading (a numbered series at the tops of pages is not a running header),
    # every page's body line is kept (recurring the way body text does, not the way a header runs),
    # and the running header is the identity, not body.
    paths = {c.heading_path[-1] for c in whole.chunks}
    assert paths == {f"Berth group {n}" for n in range(1, PAGES // 10 + 1)}
    calls = {int(m) for c in whole.chunks for m in re.findall(r"made call (\d+);", c.text)}
    assert calls == set(range(1, PAGES + 1))
    assert {c.document for c in whole.chunks} == {"Acme Logistics Group - Operations Manual"}
    assert "Acme Logistics Group - Operations Manual" in whole.furniture


def test_a_cover_heading_is_kept_when_later_windows_may_close_it(report):
    """The cover-banner rule needs to see a file's end: in a first window that more windows follow, a
    page-1 heading nothing closes yet (the first chapter, closed 50 pages on) stays a heading."""
    source, _ = report
    windowed = prepare(source, PrepareTools.load(_settings(30)))  # 4 windows of 30: chapter 2 starts on page 51
    first = [c for c in windowed.chunks if 1 in c.pages]
    assert first and all(c.heading_path[:2] == ("Operations Manual", "Chapter 1: Terminal 1") for c in first)


def _kbbuild(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kbbuild", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=900,
    )


@pytest.mark.slow
def test_ingest_reads_a_long_pdf_in_windows_and_commits_every_page(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    long_report_pdf(docs / "manual.pdf", 400)
    (docs / "note.txt").write_text("Berth 4 reopens on Monday after the crane inspection.")
    config = tmp_path / "kbbuild.toml"
    config.write_text("[parse]\npdf_window_pages = 100\n")
    kb = tmp_path / "kb"
    run = _kbbuild("ingest", docs, "--kb", kb, "-c", config, "--no-progress", "--json", "--workers", "2")
    assert run.returncode == 0, run.stderr
    files = {f["relpath"]: f for f in json.loads(run.stdout)["files"]}
    assert files["manual.pdf"]["status"] == "ingested" and files["manual.pdf"]["pages"] == 400
    store = KB.open(kb)
    table = store.chunks_table(store.latest_manifest())
    rows = table.search().where("source = 'manual.pdf'").select(["text", "chunk_index", "page_start"]).to_list()
    assert sorted(r["chunk_index"] for r in rows) == list(range(len(rows)))
    calls = {int(m) for r in rows for m in re.findall(r"made call (\d+);", r["text"])}
    assert calls == set(range(1, 401))
    hit = _kbbuild("query", "Which vessel made call 377?", "--kb", kb, "--json", "--top-k", "3")
    assert hit.returncode == 0, hit.stderr
    assert any("made call 377;" in h["text"] for h in json.loads(hit.stdout))
