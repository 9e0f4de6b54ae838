"""The OpenAI-compatible vector-store search: ``POST /v1/vector_stores/{id}/search`` and
``GET /v1/vector_stores``, as OpenAI's API defines them and LiteLLM, Llama Stack and Cloudflare
AutoRAG implement them, so that a client written for those (the official ``openai`` package's
``client.vector_stores.search``) can query a kbbuild KB unchanged.

A vector store is a collection (``default``, ``hr``), optionally pinned to a version or tag
(``hr@12``), exactly as Dify's ``knowledge_id``. ``filters`` are OpenAI's comparison (``eq ne gt gte
lt lte in nin``) and compound (``and``/``or``) filters over the same fields as Dify's
``metadata_condition`` (translated by ``conditions``, so both APIs filter alike); a filter kbbuild
cannot apply is refused, never dropped. Results are kbbuild's ranking (hybrid by default) and
``score`` is the cosine similarity clipped to 0..1 (the reranker's relevance with ``--rerank``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kbbuild.errors import InputError
from kbbuild.records import CollectionInfo
from kbbuild.serve.conditions import FIELDS, Condition, condition_sql
from kbbuild.serve.errors import ServeError

# OpenAI's comparison operators as Dify's, which ``conditions`` already turns into SQL per field type.
_AS_DIFY = {"eq": "is", "ne": "is not", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "in": "in", "nin": "not in"}
MAX_FILTERS = 64  # comparisons in one request: a filter tree is client input, and each one is SQL


class ComparisonFilter(BaseModel):
    type: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]
    key: str
    value: str | int | float | bool | list[str | int | float]


class CompoundFilter(BaseModel):
    type: Literal["and", "or"]
    filters: list[ComparisonFilter | CompoundFilter] = Field(min_length=1)


CompoundFilter.model_rebuild()


class RankingOptions(BaseModel):
    ranker: str | None = None
    score_threshold: float = Field(default=0.0, ge=0, le=1)


class SearchRequest(BaseModel):
    query: str | list[str]
    filters: ComparisonFilter | CompoundFilter | None = None
    max_num_results: int = Field(default=10, ge=1, le=50)
    ranking_options: RankingOptions | None = None
    rewrite_query: bool = False


class TextContent(BaseModel):
    type: Literal["text"] = "text"
    text: str


class SearchResult(BaseModel):
    file_id: str
    filename: str
    score: float
    attributes: dict[str, str | int | float | bool]
    content: list[TextContent]


class SearchResultsPage(BaseModel):
    object: Literal["vector_store.search_results.page"] = "vector_store.search_results.page"
    search_query: list[str]
    data: list[SearchResult]
    has_more: bool = False
    next_page: str | None = None


def filter_sql(node: ComparisonFilter | CompoundFilter, budget: list[int] | None = None) -> str:
    """An OpenAI filter tree as a SQL predicate over the chunk columns."""
    budget = budget if budget is not None else [MAX_FILTERS]
    if isinstance(node, CompoundFilter):
        joiner = " AND " if node.type == "and" else " OR "
        return "(" + joiner.join(filter_sql(child, budget) for child in node.filters) + ")"
    budget[0] -= 1
    if budget[0] < 0:
        raise InputError(f"filters hold more than {MAX_FILTERS} comparisons")
    if isinstance(node.value, list) and node.type not in ("in", "nin"):
        raise InputError(f"filter on '{node.key}' with '{node.type}' takes one value, not a list (use 'in')")
    if isinstance(node.value, bool):
        raise InputError(f"filter on '{node.key}': kbbuild has no true/false fields (fields: {', '.join(FIELDS)})")
    value = node.value
    if node.type in ("in", "nin") and not isinstance(value, list):
        value = [value]
    return "(" + condition_sql(Condition(name=node.key, comparison_operator=_AS_DIFY[node.type], value=value)) + ")"


def _vector_store(info: CollectionInfo) -> dict:
    created = int(info.updated_at.timestamp()) if info.updated_at else 0
    return {
        "id": info.name,
        "object": "vector_store",
        "created_at": created,
        "name": info.name,
        "status": "completed",
        "usage_bytes": 0,
        "last_active_at": created,
        "file_counts": {"in_progress": 0, "completed": info.files, "failed": 0, "cancelled": 0, "total": info.files},
        "metadata": {"kb_version": str(info.latest_version), "chunks": str(info.chunks), "model": info.model or ""},
        "expires_after": None,
        "expires_at": None,
    }


def make_router(search: Callable, collections: Callable[[], list[CollectionInfo]]) -> APIRouter:
    """``search(knowledge_id, query, k, where)`` returns kbbuild hits; ``collections()`` lists them."""
    router = APIRouter(prefix="/v1")

    @router.get("/vector_stores")
    def list_vector_stores() -> dict:
        """The KB's collections as OpenAI vector stores (those with a committed version)."""
        stores = [_vector_store(c) for c in collections() if c.latest_version is not None]
        return {
            "object": "list",
            "data": stores,
            "first_id": stores[0]["id"] if stores else None,
            "last_id": stores[-1]["id"] if stores else None,
            "has_more": False,
        }

    @router.post("/vector_stores/{vector_store_id}/search", response_model=SearchResultsPage)
    def search_vector_store(vector_store_id: str, body: SearchRequest) -> SearchResultsPage:
        """OpenAI's vector-store search over one collection. Several queries are searched one by one
        and merged, each chunk at its best score."""
        queries = [body.query] if isinstance(body.query, str) else list(body.query)
        queries = [q for q in queries if q.strip()]
        if not queries:
            raise ServeError(3001, "Invalid request body: query is empty")
        if body.rewrite_query:
            raise ServeError(3001, "Invalid request body: rewrite_query is not supported; send the query to search")
        try:
            where = filter_sql(body.filters) if body.filters is not None else None
        except InputError as error:
            raise ServeError(3002, f"Invalid filters: {error}") from None
        threshold = body.ranking_options.score_threshold if body.ranking_options else 0.0
        best: dict[str, tuple[float, object]] = {}
        for query in queries:
            for hit in search(vector_store_id, query, body.max_num_results, where):
                score = hit.rerank_score if hit.rerank_score is not None else max(0.0, min(1.0, hit.similarity))
                if score >= threshold and (hit.chunk_id not in best or score > best[hit.chunk_id][0]):
                    best[hit.chunk_id] = (score, hit)
        ranked = sorted(best.values(), key=lambda pair: -pair[0])[: body.max_num_results]
        return SearchResultsPage(search_query=queries, data=[_result(score, hit) for score, hit in ranked])

    return router


def _result(score: float, hit) -> SearchResult:
    attributes: dict[str, str | int | float | bool] = {
        "source": hit.source,
        "chunk_id": hit.chunk_id,
        "heading_path": " > ".join(hit.heading_path),
        "kb_version": hit.kb_version,
    }
    if hit.pages:
        attributes |= {"page_start": min(hit.pages), "page_end": max(hit.pages)}
    if hit.document:
        attributes["document"] = hit.document
    return SearchResult(
        file_id=hit.source,
        filename=Path(hit.source).name,
        score=round(score, 6),
        attributes=attributes,
        content=[TextContent(text=hit.text)],
    )
