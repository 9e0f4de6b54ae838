"""kill -9 in the middle of an ingest, with a second writer trying its luck meanwhile: the previous
version must read exactly as before, the second writer must be refused, and the next ingest must
finish normally. The ingest runs in a real subprocess and is killed while it appends to LanceDB."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import pytest

from kbbuild import KB, ingest

from .conftest import SAMPLES, quiet_settings
from .pdfmaker import notes_pdf

pytestmark = pytest.mark.slow

NORTHWIND = "northwind_field_manual.pdf"
MEMOS = 60  # enough appends (one per chunk) that the run is still writing after the lock check below


def _table_manifests(kb) -> int:
    """LanceDB table versions of ``chunks`` on disk: each append of the running ingest adds one."""
    return len(list((kb / "lancedb" / "chunks.lance" / "_versions").glob("*.manifest")))


def _rows(store: KB, version: int) -> list[tuple]:
    table = store.chunks_table(store.manifest(version)).to_arrow().select(["id", "source", "text", "kb_version"])
    return sorted(zip(*(table[name].to_pylist() for name in table.column_names), strict=True))


def test_sigkill_mid_write_keeps_the_previous_version_and_the_next_ingest_recovers(tmp_path, cli):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLES / NORTHWIND, docs)
    kb = tmp_path / "kb"
    assert ingest(docs, kb, quiet_settings()).kb_version == 1
    before = _rows(KB.open(kb), 1)
    for number in range(MEMOS):
        notes_pdf(docs / f"memo_{number:02d}.pdf", number)
    config = tmp_path / "kbbuild.toml"
    config.write_text("[ingest]\nwrite_batch_rows = 1\n", encoding="utf-8")  # one append per chunk
    baseline = _table_manifests(kb)

    command = [sys.executable, "-m", "kbbuild", "ingest", str(docs), "--kb", str(kb), "-c", str(config)]
    process = subprocess.Popen([*command, "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while _table_manifests(kb) < baseline + 3:  # it has appended rows and is still going
            assert process.poll() is None, "the ingest ended before it was killed: " + process.stderr.read().decode()
            assert time.monotonic() < deadline, "the ingest never started writing"
            time.sleep(0.02)
        second = cli("ingest", docs, "--kb", kb, "--no-progress")
        assert second.exit_code == 4 and "another kbbuild process is writing" in second.output
        assert process.poll() is None, "the ingest finished while the lock was checked: raise MEMOS"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()

    store = KB.open(kb)
    assert store.versions() == [1]
    assert _table_manifests(kb) > baseline  # rows were written past the committed version...
    assert _rows(store, 1) == before  # ...and none of them is visible
    hit = store.query("pressure sensor calibration", k=1, settings=quiet_settings())[0]
    assert hit.source == NORTHWIND and hit.kb_version == 1

    report = ingest(docs, kb, quiet_settings())  # the kernel dropped the dead process's lock
    assert report.kb_version == 2 and report.exit_code == 0
    assert any("did not commit" in note for note in report.notes)
    assert report.counts.files_ingested == MEMOS and report.counts.files_unchanged == 1
    rows = _rows(KB.open(kb), 2)
    assert len({row[0] for row in rows}) == len(rows) == report.counts.chunks_total
    per_file = {record.relpath: record.chunks for record in report.files}
    for relpath, chunks in per_file.items():
        assert sum(row[1] == relpath for row in rows) == chunks
    assert [row for row in rows if row[1] == NORTHWIND] == [row for row in before if row[1] == NORTHWIND]
