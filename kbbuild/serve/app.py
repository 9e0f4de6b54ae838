"""An HTTP service speaking Dify's External Knowledge API, so Dify (and RAGFlow-style clients, or any
LLM app) can use a kbbuild KB as its knowledge base without copying it anywhere.

``POST /retrieval`` takes ``knowledge_id`` (a collection, optionally pinned to a version or tag as
``hr@12`` or ``hr@release-2026-11``), ``query``, ``retrieval_setting {top_k, score_threshold}`` and
``metadata_condition``, and answers ``{"records": [{content, score, title, metadata}]}``. Hits are
ordered by kbbuild's search (hybrid by default); ``score`` is the cosine similarity of query and
chunk, or the reranker's relevance with reranking on, because Dify's threshold is a 0..1 similarity
and fused ranks have no such scale. Errors are ``{"error_code", "error_msg"}`` with the codes below.
"""

from __future__ import annotations

import hmac
import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kbbuild import __version__
from kbbuild.config import Settings
from kbbuild.errors import InputError, KBError
from kbbuild.serve.conditions import FIELDS, MetadataCondition, metadata_sql

ERROR_CODES = {
    1001: (401, "Invalid Authorization header format. Expected 'Bearer <api-key>' format."),
    1002: (403, "Authorization failed: wrong API key."),
    2001: (404, "The knowledge does not exist."),
    3001: (400, "Invalid request body."),
    3002: (400, "Invalid metadata_condition."),
    5001: (500, "Retrieval failed inside kbbuild."),
}


class RetrievalSetting(BaseModel):
    top_k: int = Field(ge=1, le=100, description="Maximum number of records.")
    score_threshold: float = Field(default=0.0, ge=0.0, le=1.0, description="Minimum score (0 = no threshold).")


class RetrievalRequest(BaseModel):
    knowledge_id: str = Field(description="Collection name, optionally @version or @tag: 'default', 'hr@release-1'.")
    query: str
    retrieval_setting: RetrievalSetting
    metadata_condition: MetadataCondition | None = None


class RecordMetadata(BaseModel):
    source: str
    pages: list[int]
    heading_path: list[str]
    chunk_id: str
    collection: str
    kb_version: int
    rank: int
    similarity: float
    matched_by: list[str]
    matched_question: str | None = None
    also_in: list[str] = Field(default_factory=list)


class RetrievalRecord(BaseModel):
    content: str
    score: float
    title: str
    metadata: RecordMetadata


class RetrievalResponse(BaseModel):
    records: list[RetrievalRecord]


class ErrorResponse(BaseModel):
    error_code: int
    error_msg: str


class _Failure(Exception):
    def __init__(self, code: int, detail: str | None = None) -> None:
        super().__init__(detail or ERROR_CODES[code][1])
        self.code = code
        self.detail = detail or ERROR_CODES[code][1]


def _error(code: int, detail: str | None = None) -> JSONResponse:
    status, message = ERROR_CODES[code]
    return JSONResponse(status_code=status, content={"error_code": code, "error_msg": detail or message})


class _Searchers:
    """One searcher per (collection, KB version), opened on first use; the newest version is looked
    up on every request, so a nightly ingest is served as soon as it commits."""

    def __init__(self, root: Path, settings: Settings) -> None:
        from kbbuild.plugins import Registry, make_plugin_manager

        self.root = root
        self.settings = settings
        self.registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
        self._cache: dict[tuple[str, int], object] = {}
        self._lock = threading.Lock()

    def get(self, knowledge_id: str):
        from kbbuild.store.kb import KB

        collection, _, ref = knowledge_id.partition("@")
        try:
            kb = KB.open(self.root, collection or None)
            version = kb.manifest(kb.resolve(ref or None)).kb_version
        except KBError as error:
            raise _Failure(2001, f"The knowledge does not exist: {error}") from None
        key = (kb.collection, version)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = kb.searcher(version, settings=self.settings, registry=self.registry)
            return self._cache[key]


def create_app(root: Path, settings: Settings, api_key: str | None) -> FastAPI:
    """The ASGI app. Without ``api_key`` every request is accepted: the CLI then binds to localhost."""
    from kbbuild.retrieve.rerank import load_reranker
    from kbbuild.store.kb import describe_collections

    app = FastAPI(
        title="kbbuild knowledge service",
        version=__version__,
        description="Dify External Knowledge API over a kbbuild knowledge base. Error codes: "
        + "; ".join(f"{code} ({status}): {text}" for code, (status, text) in ERROR_CODES.items())
        + f". Metadata fields: {', '.join(FIELDS)}.",
    )
    searchers = _Searchers(root, settings)
    query = settings.query
    reranker_lock = threading.Lock()
    state: dict[str, object] = {}

    def reranker():
        if not query.rerank:
            return None
        with reranker_lock:
            if "reranker" not in state:
                state["reranker"] = load_reranker(query.reranker, query.device)
            return state["reranker"]

    @app.exception_handler(_Failure)
    async def _failure(_: Request, failure: _Failure) -> JSONResponse:
        return _error(failure.code, failure.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in error.errors())
        return _error(3001, f"Invalid request body: {problems}")

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Failure(1001)
        if not hmac.compare_digest(token.strip().encode(), api_key.encode()):
            raise _Failure(1002)

    @app.post(
        "/retrieval",
        response_model=RetrievalResponse,
        responses={code: {"model": ErrorResponse, "description": text} for code, (_, text) in ERROR_CODES.items()},
    )
    def retrieval(body: RetrievalRequest, request: Request) -> RetrievalResponse:
        """Dify External Knowledge API: the best chunks for a query."""
        check_key(request)
        if not body.query.strip():
            raise _Failure(3001, "Invalid request body: query is empty")
        try:
            where = metadata_sql(body.metadata_condition)
        except InputError as error:
            raise _Failure(3002, f"Invalid metadata_condition: {error}") from None
        searcher = searchers.get(body.knowledge_id)
        try:
            hits = searcher.search(
                body.query,
                k=body.retrieval_setting.top_k,
                mode=query.mode,
                where=where,
                questions=query.questions,
                candidates=query.candidates,
                rrf_k=query.rrf_k,
                rerank=reranker(),
                rerank_candidates=query.rerank_candidates,
            )
        except KBError as error:
            code = 3002 if "invalid filter" in str(error) else 5001
            raise _Failure(code, str(error)) from None
        records = []
        for hit in hits:
            score = hit.rerank_score if hit.rerank_score is not None else max(0.0, hit.similarity)
            if score < body.retrieval_setting.score_threshold:
                continue
            records.append(
                RetrievalRecord(
                    content=hit.text,
                    score=round(score, 6),
                    title=Path(hit.source).name,
                    metadata=RecordMetadata(
                        source=hit.source,
                        pages=hit.pages,
                        heading_path=hit.heading_path,
                        chunk_id=hit.chunk_id,
                        collection=body.knowledge_id.partition("@")[0] or "default",
                        kb_version=hit.kb_version,
                        rank=hit.rank,
                        similarity=hit.similarity,
                        matched_by=[f"{m.via}#{m.rank}" for m in hit.matched_by],
                        matched_question=hit.matched_question,
                        also_in=[a.source for a in hit.also_in],
                    ),
                )
            )
        return RetrievalResponse(records=records)

    @app.get("/health")
    def health() -> dict:
        """Liveness and what is served: each collection's current version."""
        collections = describe_collections(root)
        return {
            "status": "ok",
            "kbbuild": __version__,
            "auth": api_key is not None,
            "collections": {c.name: c.latest_version for c in collections if c.latest_version is not None},
        }

    return app
