"""Chunk rows staged by other processes (the Ray engine's actors) are invisible until the driver
commits them, in one append with its own rows; rows the driver drops (duplicates, a failed file)
never appear in the committed table; staged fragments of a run that never commits stay unseen."""

from __future__ import annotations

import numpy as np
import pytest

from kbbuild.records import Chunk, EmbeddingModelInfo
from kbbuild.store.kb import KB
from kbbuild.store.staging import StagedFile, write_staged_rows
from kbbuild.store.writer import KBWriter

pytest.importorskip("lance_ray", reason="the ray extra is not installed (pip install 'kbbuild[ray]')")

DIM = 4
MODEL = EmbeddingModelInfo(
    name="test", provider="test", location="-", dim=DIM, normalize=True, pooling="mean", max_length=64
)


def _chunks(source: str, texts: list[str]) -> tuple[Chunk, ...]:
    return tuple(
        Chunk(id=Chunk.make_id(source, text, 0), source=source, source_sha256="-", chunk_index=n, text=text, n_tokens=3)
        for n, text in enumerate(texts)
    )


def _staged(writer: KBWriter, source: str, texts: list[str]) -> tuple[tuple[Chunk, ...], list]:
    import pickle

    chunks = _chunks(source, texts)
    vectors = np.arange(len(chunks) * DIM, dtype=np.float32).reshape(len(chunks), DIM)
    return chunks, pickle.loads(write_staged_rows(writer.staging_target(), [StagedFile(chunks, vectors, "text")]))


def _stored(table) -> list[str]:
    return sorted(row["text"] for row in table.to_arrow().to_pylist())


def test_staged_rows_appear_only_when_committed_and_without_what_the_driver_dropped(tmp_path):
    kb = KB.open_or_create(tmp_path / "kb")
    writer = KBWriter(kb, None, MODEL, rebuild=False)
    table = writer._tables["chunks"].table
    kept, fragments = _staged(writer, "a.md", ["berth one", "berth two", "berth three"])
    _, failed = _staged(writer, "b.md", ["crane log"])
    assert _stored(table) == []  # written, but in no table version yet
    writer.stage(fragments + failed)
    writer.drop_staged([kept[1].id])  # linked as a duplicate by the driver
    writer.discard("b.md")  # failed on the driver after the cluster wrote it
    writer.flush()
    assert _stored(table) == ["berth one", "berth three"]
    assert writer.rows_added == 2


def test_fragments_of_a_run_that_never_commits_are_not_seen(tmp_path):
    kb = KB.open_or_create(tmp_path / "kb")
    writer = KBWriter(kb, None, MODEL, rebuild=False)
    _staged(writer, "a.md", ["berth one"])  # the run dies before its driver commits anything
    again = KBWriter(kb, None, MODEL, rebuild=False)
    assert _stored(again._tables["chunks"].table) == []
    assert again._tables["chunks"].table.count_rows() == 0


def test_fragments_this_machine_cannot_see_are_refused_before_the_commit(tmp_path):
    """On a cluster without shared storage an actor writes into its own disk's copy of the KB path;
    committing those fragments would make a version whose rows cannot be read."""
    from kbbuild.errors import KBError

    kb = KB.open_or_create(tmp_path / "kb")
    writer = KBWriter(kb, None, MODEL, rebuild=False)
    _, fragments = _staged(writer, "a.md", ["berth one"])
    for fragment in fragments:
        for data_file in fragment.files:
            (tmp_path / "kb" / "lancedb" / "chunks.lance" / "data" / data_file.path).unlink()
    writer.stage(fragments)
    with pytest.raises(KBError, match="must be on storage every Ray node shares"):
        writer.flush()
    assert writer._tables["chunks"].table.count_rows() == 0
