"""What protects a KB: the commit record, the writer lock, rollback of uncommitted writes."""

from __future__ import annotations

import lancedb
import pytest

from kbbuild import KB, ingest
from kbbuild.errors import KBError

from .conftest import SAMPLES, quiet_settings

pytestmark = pytest.mark.slow


@pytest.fixture()
def one_doc_kb(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "manual.pdf").write_bytes((SAMPLES / "northwind_field_manual.pdf").read_bytes())
    kb = tmp_path / "kb"
    report = ingest(docs, kb, quiet_settings())
    assert report.kb_version == 1
    return docs, kb, report


def test_empty_input_folder_never_empties_the_kb(one_doc_kb, tmp_path, cli):
    _, kb, first = one_doc_kb
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("ingest", empty, "--kb", kb, "--no-progress")
    assert result.exit_code == 3
    assert "the KB is unchanged" in result.output
    store = KB.open(kb)
    assert store.versions() == [1]
    assert store.manifest().counts.chunks_total == first.counts.chunks_total


def test_second_writer_is_refused_while_the_lock_is_held(one_doc_kb, cli):
    docs, kb, _ = one_doc_kb
    with KB.open(kb).write_lock():
        result = cli("ingest", docs, "--kb", kb, "--no-progress")
    assert result.exit_code == 4
    assert "another kbbuild process is writing" in result.output
    assert KB.open(kb).versions() == [1]
    # The lock is gone with its holder: the next ingest works.
    assert cli("ingest", docs, "--kb", kb, "--no-progress").exit_code == 0


def test_rows_of_an_uncommitted_ingest_are_invisible_then_rolled_back(one_doc_kb):
    docs, kb, first = one_doc_kb
    table = lancedb.connect(str(kb / "lancedb")).open_table("chunks")
    leftover = table.to_arrow().slice(0, 3)  # as if a crashed ingest had appended rows
    table.add(leftover)
    assert table.count_rows() == first.counts.chunks_total + 3
    store = KB.open(kb)
    assert store.chunks_table(store.manifest()).count_rows() == first.counts.chunks_total
    report = ingest(docs, kb, quiet_settings())
    assert any("did not commit" in note for note in report.notes)
    assert report.counts.chunks_total == first.counts.chunks_total


def test_unknown_version_is_a_clear_error(one_doc_kb):
    _, kb, _ = one_doc_kb
    with pytest.raises(KBError, match="KB version 7 does not exist"):
        KB.open(kb).query("x", version=7, settings=quiet_settings())


def test_changing_chunk_settings_reprocesses_everything_and_says_so(one_doc_kb):
    docs, kb, first = one_doc_kb
    report = ingest(docs, kb, quiet_settings(max_tokens=20))
    assert report.counts.files_ingested == 1 and report.counts.files_unchanged == 0
    assert any("settings changed" in note for note in report.notes)
    assert report.counts.chunks_total > first.counts.chunks_total
    rows = KB.open(kb).chunks_table(KB.open(kb).manifest()).to_arrow().to_pylist()
    assert all(r["n_tokens"] <= 20 for r in rows)


def test_a_new_chunker_version_reprocesses_everything(one_doc_kb, monkeypatch):
    """After an upgrade that changes how text is chunked, old chunks are as stale as after a new
    budget: unchanged files are processed again rather than mixing two chunkers in one version."""
    from kbbuild.chunk.plugin import StructureChunker

    docs, kb, _ = one_doc_kb
    monkeypatch.setattr(StructureChunker, "version", StructureChunker.version + "-next")
    report = ingest(docs, kb, quiet_settings())
    assert report.counts.files_ingested == 1 and report.counts.files_unchanged == 0
    assert any("chunking/embedding code did" in note for note in report.notes)
    assert KB.open(kb).manifest().config_fingerprint != KB.open(kb).manifest(1).config_fingerprint
