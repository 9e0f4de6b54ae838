"""Chunk rows written away from the driver (the Ray engine's actors) and committed by the driver.

An actor writes a batch of rows as Lance fragments into the chunks table's own folder (lance-ray's
``write_fragment``) without committing them: until the driver appends them in one operation they
belong to no table version, so no reader sees them, and a run that fails or is killed leaves only
files that no version refers to. That is Lance's own pattern for distributed writes; ``merge_insert``
from parallel workers is not safe (LanceDB issue 3377 duplicates rows). Only the fragments' metadata
(a few hundred bytes each) travels back to the driver, never the rows.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kbbuild.errors import KBError
from kbbuild.records import Chunk
from kbbuild.store.schema import chunks_schema, rows_to_table, to_rows


@dataclass(frozen=True)
class StagingTarget:
    """Where the actors write: the chunks table's dataset, the KB version their rows carry."""

    uri: str
    dim: int
    kb_version: int
    storage_options: dict[str, str] | None = None


@dataclass(frozen=True)
class StagedFile:
    """One file's rows to stage: every chunk, with its vector."""

    chunks: tuple[Chunk, ...]
    vectors: np.ndarray
    parser: str


def write_staged_rows(target: StagingTarget, files: list[StagedFile]) -> bytes:
    """Write the files' rows as uncommitted fragments; returns the fragments' metadata, pickled (what
    ``append_staged`` takes back on the driver). Nothing to write gives an empty list."""
    from lance_ray.fragment import write_fragment

    rows = [row for f in files if f.chunks for row in to_rows(list(f.chunks), f.vectors, f.parser, target.kb_version)]
    if not rows:
        return pickle.dumps([])
    schema = chunks_schema(target.dim)
    written = write_fragment(
        [rows_to_table(rows, schema)], target.uri, schema=schema, storage_options=target.storage_options
    )
    return pickle.dumps([fragment for fragment, _ in written], protocol=pickle.HIGHEST_PROTOCOL)


def missing_files(uri: str, fragments: list) -> list[str]:
    """Data files of the fragments that this process cannot see. Lance commits a fragment without
    reading it, so an actor on another machine that wrote into its own disk's copy of the KB path
    would otherwise give a committed version whose rows cannot be read."""
    if "://" in uri:  # object storage: every node sees the same bucket
        return []
    data = Path(uri) / "data"
    return [f.path for fragment in fragments for f in fragment.files if not (data / f.path).is_file()]


def append_staged(table, fragments: list) -> None:
    """Commit staged fragments to ``table`` (a LanceDB table) as one append, on top of whatever this
    run has appended meanwhile; the table object then reads the new version."""
    import lance

    dataset = table.to_lance()
    missing = missing_files(dataset.uri, fragments)
    if missing:
        raise KBError(
            f"{len(missing)} of the chunk-row files the cluster wrote are not in {dataset.uri}/data (e.g. "
            f"{missing[0]}): the KB folder must be on storage every Ray node shares, or set [ingest] ray_write = "
            "false so that only this machine writes. Nothing was committed."
        )
    lance.LanceDataset.commit(dataset.uri, lance.LanceOperation.Append(fragments), read_version=dataset.version)
    table.checkout_latest()
