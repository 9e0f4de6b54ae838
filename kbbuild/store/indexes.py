"""The search indexes of the KB's tables, rebuilt by each ingest before it commits.

Building them inside the ingest means every KB version pins its own index state (LanceDB versions
indexes with the table), so ``query --version N`` searches version N's text with version N's index,
and a rollback brings the matching index back. The full-text index reads ``search_text``, which is
already cut into words (``text.segment``); the index then lower-cases, stems English words and drops
English stop words per token, which leaves Chinese words as they are.
"""

from __future__ import annotations

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
