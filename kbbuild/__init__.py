"""kbbuild: turn a folder of documents into a versioned knowledge base any LLM answerer can query.

The library API (what the CLI calls): ``kbbuild.ingest(...)`` and ``kbbuild.KB(path).query(...)``.
Heavy modules (torch, FlagEmbedding, lancedb) are imported lazily so ``kbbuild --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kbbuild.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["KB", "__version__", "hookimpl", "ingest"]

if TYPE_CHECKING:
    from kbbuild.pipeline.ingest import ingest
    from kbbuild.retrieve.kb import SearchableKB as KB


def __getattr__(name: str) -> Any:
    if name == "ingest":
        from kbbuild.pipeline.ingest import ingest

        return ingest
    if name == "KB":
        from kbbuild.retrieve.kb import SearchableKB as KB

        return KB
    raise AttributeError(name)
