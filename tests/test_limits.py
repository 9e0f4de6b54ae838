"""Per-file limits (``[limits]``): a file over one fails with the limit's name and value, its worker
is replaced, and the good files of the same batch are committed. Real hostile files, real workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kbbuild.chunk.structure import split_table
from kbbuild.config import LimitsSettings
from kbbuild.errors import InputError
from kbbuild.parse.markup.archive import check_archive
from kbbuild.parse.pdf.plugin import fitting_dpi
from kbbuild.providers import Parser
from kbbuild.text.tables import grid_from_html, to_markdown

from . import hostile_corpus
from .conftest import quiet_settings
from .pdfmaker import notes_pdf


def _ingest(cli, docs: Path, kb: Path, limits: str, *flags: str) -> tuple[int, dict]:
    config = docs.parent / "kbbuild.toml"
    config.write_text(f"[limits]\n{limits}\n", encoding="utf-8")
    result = cli("ingest", docs, "--kb", kb, "-c", config, "--json", "--no-progress", *flags)
    return result.exit_code, json.loads(result.stdout)


def _files(report: dict) -> dict[str, dict]:
    return {f["relpath"]: f for f in report["files"]}


def test_a_file_over_its_time_limit_is_stopped_and_the_rest_is_committed(tmp_path, cli):
    """6 MB of nested Markdown keeps unstructured busy for well over a minute here (before it would
    also run out of memory, which the generous memory budget rules out). The limit leaves the small
    note room for its worker's first use of unstructured, which imports spaCy, thinc and torch (3.4 s
    here): that import is counted against the first text file a worker reads."""
    docs = tmp_path / "docs"
    docs.mkdir()
    hostile_corpus.nested_markdown(docs / "nested.md")
    (docs / "note.txt").write_text(hostile_corpus.GOOD_NOTE, encoding="utf-8")
    code, report = _ingest(cli, docs, tmp_path / "kb", "file_seconds = 12\nfile_memory_mb = 8000\nrun_memory_mb = 0")
    files = _files(report)
    assert code == 1 and report["kb_version"] == 1
    assert files["note.txt"]["status"] == "ingested" and files["note.txt"]["chunks"] > 0
    nested = files["nested.md"]
    assert nested["status"] == "failed"
    assert "over the time limit ([limits] file_seconds = 12)" in nested["error"], nested["error"]
    assert 12 <= nested["read_seconds"] < 16  # stopped at the deadline, not when the file would have ended


def test_a_file_over_its_memory_limit_is_stopped_with_the_limit_named(tmp_path, cli):
    """6 MB of nested Markdown makes unstructured build a huge tree; the watchdog (or the address
    space cap, whichever trips first) stops it at the budget."""
    docs = tmp_path / "docs"
    docs.mkdir()
    hostile_corpus.nested_markdown(docs / "nested.md")
    (docs / "note.txt").write_text(hostile_corpus.GOOD_NOTE, encoding="utf-8")
    code, report = _ingest(cli, docs, tmp_path / "kb", "file_memory_mb = 700")
    files = _files(report)
    assert code == 1 and report["kb_version"] == 1
    assert files["note.txt"]["status"] == "ingested"
    nested = files["nested.md"]
    assert nested["status"] == "failed"
    assert "[limits] file_memory_mb = 700" in nested["error"], nested["error"]
    assert nested["peak_memory_mb"] < 700 * 1.5  # stopped near the budget, not wherever the file would go


def test_a_pdf_with_too_many_pages_is_refused_before_it_is_read(tmp_path, cli):
    docs = tmp_path / "docs"
    docs.mkdir()
    hostile_corpus.empty_pages(docs / "many.pdf", count=300)
    notes_pdf(docs / "memo.pdf", 2)
    code, report = _ingest(cli, docs, tmp_path / "kb", "pdf_pages = 100")
    many = _files(report)["many.pdf"]
    assert code == 1 and many["status"] == "failed"
    assert many["error"] == "the PDF has 300 pages, over the limit ([limits] pdf_pages = 100)"
    assert many["read_seconds"] < 5


def test_zip_bombs_are_refused_from_the_archive_directory(tmp_path):
    limits = LimitsSettings()
    ratio_bomb = tmp_path / "ratio.docx"
    hostile_corpus.docx_zip_bomb(ratio_bomb, inflated_mb=20)  # 20 MB of one letter: ~1000x
    with pytest.raises(InputError, match=r"inflates [\d,]+ times .*\[limits\] archive_ratio = 200"):
        check_archive(ratio_bomb, "docx", limits)
    with pytest.raises(InputError, match=r"decompresses to 20 MB, over the limit \(\[limits\] archive_mb = 10\)"):
        check_archive(ratio_bomb, "docx", LimitsSettings(archive_mb=10, archive_ratio=10_000))
    fine = tmp_path / "fine.docx"
    hostile_corpus.pdf_that_is_docx(fine)
    check_archive(fine, "docx", limits)  # an ordinary docx passes


def test_pages_are_rendered_within_the_pixel_budget():
    assert fitting_dpi(612, 792, 144, 40) == 144  # a letter page at full resolution
    assert fitting_dpi(2384, 3370, 144, 40) == 144  # A0 fits: 32 megapixels
    poster = fitting_dpi(3370, 4768, 144, 40)  # 2A0: rendered smaller, still readable
    assert poster is not None and 50 <= poster < 144
    assert 3370 * poster / 72 * 4768 * poster / 72 <= 40e6 * 1.0001
    assert fitting_dpi(14400, 14400, 144, 40) is None  # 200 inches square: not rendered at all
    assert fitting_dpi(0, 0, 144, 40) is None


def test_a_ragged_table_is_not_padded_into_millions_of_cells():
    markup = "<table><tr>" + "<td>x</td>" * 5000 + "</tr>" + "<tr><td>y</td></tr>" * 20000 + "</table>"
    rows, header_rows = grid_from_html(markup)
    assert len(rows) == 20001 and len(rows[0]) == 5000 and all(len(r) == 1 for r in rows[1:])
    text = to_markdown(rows, header_rows)
    assert len(text) < 200_000 and text.count("\n| y |") == 20000
    regular = to_markdown([["a", "b", "c"], ["1"], ["2", "3"]])  # an ordinary ragged table is still padded
    assert regular.splitlines()[2:] == ["| 1 |  |  |", "| 2 | 3 |  |"]


def test_a_table_header_over_four_budgets_is_not_repeated_in_every_piece():
    header = "| " + " | ".join(f"h{i}" for i in range(400)) + " |"
    separator = "|" + "---|" * 400
    rows = [f"| row {i} |" for i in range(300)]
    words = lambda text: len(text.split())  # noqa: E731 - a token counter any reader can check by eye
    pieces = split_table("\n".join([header, separator, *rows]), None, 64, words)
    assert pieces[0] == f"{header}\n{separator}"
    assert all(header not in piece for piece in pieces[1:])
    assert [line for piece in pieces[1:] for line in piece.split("\n")] == rows
    assert all(words(piece) <= 64 for piece in pieces[1:])
    small = split_table("\n".join(["| a | b |", "|---|---|", *rows[:40]]), None, 64, words)
    assert len(small) > 1 and all(piece.startswith("| a | b |\n|---|---|\n") for piece in small)  # short: repeated


_SHEET_PROBE = """
import json, sys
from pathlib import Path
from kbbuild.config import Settings
from kbbuild.pipeline.prepare import PrepareTools, prepare
from kbbuild.records import SourceFile
path = Path(sys.argv[1])
source = SourceFile(path=str(path), relpath=path.name, sha256="-", size=path.stat().st_size, format="xlsx")
prepared = prepare(source, PrepareTools.load(Settings()))
texts = [chunk.text for chunk in prepared.chunks]
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (pytest, large by now).
status = Path("/proc/self/status").read_text().splitlines()
peak_mb = int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) // 1024
print(json.dumps({"error": prepared.error, "texts": texts, "peak_mb": peak_mb}))
"""


@pytest.mark.slow
def test_a_sheet_of_100k_rows_is_read_in_row_windows_with_bounded_memory(tmp_path):
    """unstructured took this sheet past 1.5 GB (and 167 s); read window by window it stays near the
    process's own size, every row arrives, and every piece keeps the header row."""
    sheet = tmp_path / "ledger.xlsx"
    hostile_corpus.big_sheet(sheet, 100_000)
    done = subprocess.run([sys.executable, "-c", _SHEET_PROBE, str(sheet)], capture_output=True, text=True, timeout=600)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["error"] is None
    texts = result["texts"]
    assert sum(text.count("| Vessel ") for text in texts) == 100_000
    assert all(text.startswith("| date | berth | vessel | tonnes |") for text in texts if "| Vessel " in text)
    # Parsing is bounded by the window; the file's 13,000 chunks are still held whole until they are
    # handed on (the process alone is about 370 MB with unstructured and the tokenizer imported).
    assert result["peak_mb"] < 800, result["peak_mb"]


class _DiesOnArrival:
    """Unpickled in a worker while it loads its tools, it ends the process: a worker that can never
    become ready, as after a broken install or a crashing import."""

    def __reduce__(self):
        return (os._exit, (3,))


def test_workers_that_die_before_they_are_ready_stop_the_run_with_a_reason(tmp_path):
    from kbbuild.pipeline.pool import ParsePool
    from kbbuild.records import SourceFile

    note = tmp_path / "note.txt"
    note.write_text(hostile_corpus.GOOD_NOTE, encoding="utf-8")
    source = SourceFile(path=str(note), relpath="note.txt", sha256="-", size=note.stat().st_size, format="txt")
    pool = ParsePool(1, quiet_settings(), extra_plugins=(_DiesOnArrival(),))
    try:
        with pytest.raises(RuntimeError, match=r"parse workers cannot start: .*exit code 3"):
            list(pool.map([source]))  # three stillborn workers, then the reason: never a restart loop
    finally:
        pool.close()


class _NativeAllocationFailure(RuntimeError):
    """What rapidocr raises when ONNX Runtime cannot allocate under the worker's address-space cap."""


class _FailingOcrParser(Parser):
    """A parser whose native library runs out of memory, as ONNX Runtime does under RLIMIT_AS."""

    name = "failing-ocr"
    version = "0"
    formats = frozenset({"txt"})
    priority = 1000

    def parse(self, source, context):
        try:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Status Message: std::bad_alloc")
        except RuntimeError as error:
            raise _NativeAllocationFailure("Traceback ... infer_engine.py ...") from error


def test_a_native_allocation_failure_is_reported_as_the_memory_limit(tmp_path):
    from kbbuild import hookimpl
    from kbbuild.pipeline.prepare import PrepareTools, prepare
    from kbbuild.records import SourceFile

    class Plugin:
        @hookimpl
        def kbbuild_register_parsers(self, register):
            register(_FailingOcrParser())

    path = tmp_path / "scan.txt"
    path.write_text("page")
    source = SourceFile(path=str(path), relpath=path.name, sha256="-", size=4, format="txt")
    limits = LimitsSettings(file_memory_mb=700)
    prepared = prepare(source, PrepareTools.load(quiet_settings(), (Plugin(),), limits=limits))
    assert prepared.error == "ran out of memory: over the worker's limit ([limits] file_memory_mb = 700)"


_ARENA_PROBE = """
import sys, threading, psutil
from kbbuild.pipeline.limits import limit_malloc_arenas
if sys.argv[1] == "limited":
    limit_malloc_arenas()
before = psutil.Process().memory_info().vms
held, ready, done = [], threading.Barrier(9), threading.Event()
def work():
    held.append([bytes(2000) for _ in range(2000)])  # malloc'd by each thread, not pymalloc
    ready.wait()
    done.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads:
    thread.start()
ready.wait()
print(psutil.Process().memory_info().vms - before)
done.set()
"""


def test_workers_keep_glibc_from_reserving_a_heap_per_thread():
    """Eight threads allocating: glibc's default reserves a heap (64 MB of address space) for each,
    which counts against a worker's RLIMIT_AS; with the worker's setting, two heaps serve them all."""
    grown = {}
    for mode in ("default", "limited"):
        run = subprocess.run([sys.executable, "-c", _ARENA_PROBE, mode], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        grown[mode] = int(run.stdout)
    assert grown["default"] > 300 * 2**20, grown  # about 8 x 64 MB
    assert grown["limited"] < grown["default"] / 3, grown
