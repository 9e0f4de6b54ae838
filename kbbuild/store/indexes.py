"""The search indexes of the KB's tables, rebuilt by each ingest before it commits.

Building them inside the ingest means every KB version pins its own index state (LanceDB versions
indexes with the table), so ``query --version N`` searches version N's text with version N's index,
and a rollback brings the matching index back. The full-text index reads ``search_text``, which is
already cut into words (``text.segment``); the index then lower-cases, stems English words and drops
English stop words per token, which leaves Chinese words as they are. Large tables also get an
approximate nearest-neighbour index on the vectors (``maintain_vector_index``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kbbuild.config import IndexSettings

FTS_COLUMN = "search_text"


def build_full_text_index(table) -> None:
    from lancedb.index import FTS

    config = FTS(
        base_tokenizer="whitespace",
        language="English",
        lower_case=True,
        stem=True,
        remove_stop_words=True,
        ascii_folding=True,
        with_position=False,
    )
    table.create_index(FTS_COLUMN, config=config, replace=True)


def has_full_text_index(table) -> bool:
    return any(FTS_COLUMN in index.columns for index in table.list_indices())


VECTOR_COLUMN = "vector"


def vector_index(table):
    """The table's ANN index on ``vector`` (LanceDB ``IndexConfig``), or None."""
    return next((index for index in table.list_indices() if VECTOR_COLUMN in index.columns), None)


def maintain_vector_index(table, settings: IndexSettings) -> str | None:
    """Keep the ANN index in step with the table; say what was done (for the ingest notes).

    Below ``ann_min_rows`` an exact scan is fast enough and always right, so no index is kept. Above
    it, new rows are merged into the existing index (cheap, the partitions stay as trained) until
    they outgrow ``retrain_share`` of it; then the index is trained again on all rows.
    """
    rows = table.count_rows()
    existing = vector_index(table)
    if rows < settings.ann_min_rows:
        if existing is None:
            return None
        table.drop_index(existing.name)
        return f"dropped the {existing.index_type} index ({rows} rows is below ann_min_rows)"
    if existing is not None:
        if existing.num_unindexed_rows == 0:
            return None
        if existing.num_unindexed_rows <= settings.retrain_share * max(existing.num_indexed_rows, 1):
            table.to_lance().optimize.optimize_indices(index_names=[existing.name])
            table.checkout_latest()
            return f"added {existing.num_unindexed_rows} rows to the {existing.index_type} index"
    from lancedb.index import HnswSq, IvfPq

    config = HnswSq(distance_type="cosine") if settings.ann_type == "IVF_HNSW_SQ" else IvfPq(distance_type="cosine")
    table.create_index(VECTOR_COLUMN, config=config, replace=True)
    return f"trained a {settings.ann_type} index on {rows} rows"
