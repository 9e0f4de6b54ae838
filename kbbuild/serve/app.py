"""An HTTP service speaking Dify's External Knowledge API, so Dify (and RAGFlow-style clients, or any
LLM app) can use a kbbuild KB as its knowledge base without copying it anywhere.

``POST /retrieval`` takes ``knowledge_id`` (a collection, optionally pinned to a version or tag as
``hr@12`` or ``hr@release-2026-11``), ``query``, ``retrieval_setting {top_k, score_threshold}`` and
``metadata_condition``, and answers ``{"records": [{content, score, title, metadata}]}``. Hits are
ordered by kbbuild's search (hybrid by default); ``score`` is the cosine similarity of query and
chunk, or the reranker's relevance with reranking on, because Dify's threshold is a 0..1 similarity
and fused ranks have no such scale. Errors are ``{"error_code", "error_msg"}`` with the codes in
``kbbuild.serve.errors``; the key and the body size are checked before the body is read (``guard``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from starlette.exceptions import HTTPException

from kbbuild import __version__
from kbbuild.config import Settings
from kbbuild.errors import InputError, KBError
from kbbuild.serve.conditions import FIELDS, FileDates, MetadataCondition, metadata_sql
from kbbuild.serve.errors import ERROR_CODES, ServeError, error_response
from kbbuild.serve.guard import Guard, key_error
from kbbuild.serve.vector_stores import make_router

log = logging.getLogger("kbbuild.serve")
_SEE_LOG = "Retrieval failed inside kbbuild; the server log has the details."


def _surrogate_at(value: object, where: str) -> str | None:
    """Where a lone UTF-16 surrogate hides in parsed JSON, or None. JSON may write one as
    ``"\\ud800"``, Python keeps it, and the tokenizer, LanceDB and the response encoder all fail on it."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "body"
        return None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = _surrogate_at(key, where) or _surrogate_at(item, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


class RetrievalSetting(BaseModel):
    top_k: int = Field(ge=1, le=100, description="Maximum number of records.")
    score_threshold: float = Field(default=0.0, ge=0.0, le=1.0, description="Minimum score (0 = no threshold).")


class RetrievalRequest(BaseModel):
    knowledge_id: str = Field(description="Collection name, optionally @version or @tag: 'default', 'hr@release-1'.")
    query: str
    retrieval_setting: RetrievalSetting
    metadata_condition: MetadataCondition | None = None

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: object) -> object:
        found = _surrogate_at(data, "")
        if found:
            raise ValueError(f"{found} contains a lone UTF-16 surrogate, which is not text")
        return data


class RecordMetadata(BaseModel):
    document_id: str = Field(description="The source file's path in the KB: Dify groups and cites records by it.")
    source: str
    pages: list[int]
    heading_path: list[str]
    document: str = ""  # whose document and for when ([chunk] document_context)
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


def _search_failure(error: KBError) -> ServeError:
    """The client's view of a failed search. The KBError text holds the SQL filter (column names)
    or the KB's folder: it goes to the server log, and the client gets a message in its own terms."""
    log.error("retrieval failed: %s", error)
    if "invalid filter" in str(error):
        return ServeError(3002, "Invalid metadata_condition: the knowledge base cannot apply this filter.")
    return ServeError(5001, _SEE_LOG)


class _Searchers:
    """One searcher per (collection, KB version), opened on first use; the newest version is looked
    up on every request, so a nightly ingest is served as soon as it commits."""

    def __init__(self, root: Path, settings: Settings) -> None:
        from kbbuild.plugins import Registry, make_plugin_manager

        self.root = root
        self.settings = settings
        self.registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
        self._cache: dict[tuple[str, int], object] = {}
        self._dates: dict[tuple[str, int], FileDates] = {}
        self._lock = threading.Lock()

    def _open(self, knowledge_id: str):
        """The collection and version a knowledge_id names. KBError texts name the KB's folder,
        which is none of the client's business, so the messages here are written for Dify users."""
        from kbbuild.retrieve.kb import SearchableKB as KB

        collection, _, ref = knowledge_id.partition("@")
        name = collection or "default"
        try:
            kb = KB.open(self.root, name)
        except KBError:
            raise ServeError(2001, f"The knowledge does not exist: no collection '{name}'.") from None
        try:
            return kb, kb.manifest(kb.resolve(ref or None)).kb_version
        except KBError:
            missing = f"no version or tag '{ref}'" if ref else "no version yet"
            raise ServeError(2001, f"The knowledge does not exist: collection '{name}' has {missing}.") from None

    def get(self, knowledge_id: str):
        kb, version = self._open(knowledge_id)
        key = (kb.collection, version)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = kb.searcher(version, settings=self.settings, registry=self.registry)
            return self._cache[key]

    def dates(self, knowledge_id: str) -> FileDates:
        """The file dates of the version a knowledge_id names (for before/after conditions), kept
        like the searchers: a version's manifest never changes."""
        kb, version = self._open(knowledge_id)
        key = (kb.collection, version)
        with self._lock:
            if key not in self._dates:
                self._dates[key] = FileDates.of(kb.manifest(version).files)
            return self._dates[key]


def _install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as ``{error_code, error_msg}``: Dify reads that shape, and a plain-text 500
    or a reset connection tells its user nothing."""

    @app.exception_handler(ServeError)
    async def _failure(request: Request, failure: ServeError) -> JSONResponse:
        return error_response(failure.code, failure.detail, path=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(_problem(e) for e in error.errors())
        return error_response(3001, f"Invalid request body: {problems}", path=request.url.path)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        code = {404: 4004, 405: 4005}.get(error.status_code, 3001 if error.status_code < 500 else 5001)
        return error_response(code, path=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        # The traceback goes to the server log (the server logs the re-raised exception); the client
        # gets no internals, which may name the KB's folder or its columns.
        return error_response(5001, _SEE_LOG, path=request.url.path)


def _problem(error: dict) -> str:
    """One validation problem as ``field.path: message``, with the fields Dify users know."""
    where = ".".join(map(str, error["loc"][1:]))
    return f"{where}: {error['msg']}" if where else str(error["msg"])


class _Readiness:
    """Models load at start-up, in a thread, while the server already answers: a first request that
    had to load the embedder itself waited about 10 s, long enough for a client such as Dify to
    give up. ``/health`` says whether loading has finished (a server whose start-up hook never ran,
    an ASGI test client without its lifespan, loads on first use as before and counts as ready)."""

    def __init__(self) -> None:
        self.started = False
        self.done = threading.Event()
        self.loaded: list[str] = []
        self.error: str | None = None

    @property
    def ready(self) -> bool:
        return self.done.is_set() or not self.started

    def warm(self, root: Path, searchers: _Searchers, reranker) -> None:
        """Open every collection's current version (its embedding model loads) and run one query
        through it, then load the reranker if one is configured."""
        from kbbuild.store.kb import describe_collections

        self.started = True
        try:
            for collection in describe_collections(root):
                if collection.latest_version is None:
                    continue
                searchers.get(collection.name).embed_query("warm-up")
                self.loaded.append(collection.name)
            reranker()
        except Exception as error:  # a broken collection must not keep the others from being served
            self.error = f"{type(error).__name__}: {error}"
            log.exception("loading models at start-up failed; they load on first use instead")
        finally:
            self.done.set()


def _mount_mcp(app: FastAPI, root: Path, settings: Settings, search, host: str):
    """Route ``/mcp`` (all methods) to kbbuild's MCP tools over the streamable HTTP transport, running
    the service's own search (its loaded models, reranker and settings); ``Guard`` checks the key as
    for every other path. None, and no route, without the MCP SDK (the ``mcp`` extra)."""
    import importlib.util

    if importlib.util.find_spec("mcp") is None:
        return None
    from starlette.routing import Route

    from kbbuild.serve.mcp_tools import build_server, http_app

    def mcp_search(collection: str, query: str, top_k: int, where: str | None) -> list:
        try:
            return search(collection, query, top_k, where)
        except ServeError as error:  # an unknown collection: a tool error with the same message
            raise InputError(error.detail) from None

    server, _tools = build_server(root, settings, mcp_search)
    endpoint, run = http_app(server, host)
    app.router.routes.append(Route("/mcp", endpoint=endpoint, methods=["GET", "POST", "DELETE"]))
    return endpoint, run


def create_app(
    root: Path,
    settings: Settings,
    api_key: str | None,
    *,
    max_body: int | None = None,
    host: str = "127.0.0.1",
) -> FastAPI:
    """The ASGI app. Without ``api_key`` every request is accepted: the CLI then binds to localhost.
    ``max_body`` caps request bodies in bytes (default ``[serve] max_body_bytes``); ``host`` is the
    address served on (MCP's transport protects loopback ones against DNS rebinding)."""
    from kbbuild.retrieve.rerank import load_reranker
    from kbbuild.store.kb import describe_collections

    readiness = _Readiness()
    mcp_endpoint = None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        readiness.started = True
        threading.Thread(target=readiness.warm, args=(root, searchers, reranker), daemon=True).start()
        async with contextlib.AsyncExitStack() as stack:
            if mcp_endpoint is not None:
                await stack.enter_async_context(mcp_endpoint[1]())
            yield

    app = FastAPI(
        lifespan=lifespan,
        title="kbbuild knowledge service",
        version=__version__,
        description="Dify External Knowledge API over a kbbuild knowledge base. Error codes: "
        + "; ".join(f"{code} ({status}): {text}" for code, (status, text) in ERROR_CODES.items())
        + f". Metadata fields: {', '.join(FIELDS)}.",
    )
    app.add_middleware(Guard, api_key=api_key, max_body=max_body or settings.serve.max_body_bytes)
    _install_error_handlers(app)
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

    def search(knowledge_id: str, text: str, k: int, where: str | None) -> list:
        """kbbuild's search with the service's settings, shared by the Dify and OpenAI endpoints."""
        searcher = searchers.get(knowledge_id)
        try:
            return searcher.search_configured(text, k, query, where=where, rerank=reranker())
        except KBError as error:
            raise _search_failure(error) from None

    app.include_router(make_router(search, lambda: describe_collections(root)))
    mcp_endpoint = _mount_mcp(app, root, settings, search, host)

    @app.post(
        "/retrieval",
        response_model=RetrievalResponse,
        responses={code: {"model": ErrorResponse, "description": text} for code, (_, text) in ERROR_CODES.items()},
    )
    def retrieval(body: RetrievalRequest) -> RetrievalResponse:
        """Dify External Knowledge API: the best chunks for a query. The key was checked by ``Guard``."""
        if not body.query.strip():
            raise ServeError(3001, "Invalid request body: query is empty")
        if len(body.query) > settings.serve.max_query_chars:
            limit = settings.serve.max_query_chars
            raise ServeError(3001, f"Invalid request body: query is {len(body.query):,} characters, over {limit:,}")
        try:
            where = metadata_sql(body.metadata_condition, lambda: searchers.dates(body.knowledge_id))
        except InputError as error:
            raise ServeError(3002, f"Invalid metadata_condition: {error}") from None
        hits = search(body.knowledge_id, body.query, body.retrieval_setting.top_k, where)
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
                        document_id=hit.source,
                        source=hit.source,
                        pages=hit.pages,
                        heading_path=hit.heading_path,
                        document=hit.document,
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
    def health(request: Request):
        """Liveness and readiness for anyone (load balancers have no key): HTTP 503 and status
        "starting" while the models load, 200 and "ok" once they have; what is served (each
        collection's current version) only for a valid key, since collection names say what the KB
        holds."""
        status = {"status": "ok" if readiness.ready else "starting", "ready": readiness.ready}
        if key_error(request.headers.get("authorization"), api_key) is None:
            collections = describe_collections(root)
            status |= {
                "kbbuild": __version__,
                "auth": api_key is not None,
                "collections": {c.name: c.latest_version for c in collections if c.latest_version is not None},
                "models_loaded_for": list(readiness.loaded),
            }
            if readiness.error:
                status["startup_error"] = readiness.error
        return JSONResponse(status, status_code=200 if readiness.ready else 503)

    return app
