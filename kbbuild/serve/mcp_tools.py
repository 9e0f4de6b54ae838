"""kbbuild's retrieval as MCP tools (the maintained MCP Python SDK), for agent frameworks and desktop
assistants that call tools rather than HTTP APIs. Three tools:

- ``search``: the best chunks for a query in a collection (optionally pinned, ``hr@12``), with
  OpenAI-style ``filters`` over the same fields as the HTTP endpoints, each hit cited (source file,
  pages, heading path, chunk id, KB version) so that the agent can quote where an answer comes from;
- ``list_collections``: the collections, their current version, tags, files, chunks and model;
- ``list_versions``: a collection's versions (when, tags, files, chunks), any of which ``search``
  can be pinned to.

``kbbuild mcp --kb ./kb`` serves them over stdio, loading the models before it answers its first
call; ``kbbuild serve`` also serves them over MCP's streamable HTTP transport at ``/mcp`` (``http_app``),
behind the same key as its other endpoints and on the same loaded models.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kbbuild import __version__
from kbbuild.config import Settings
from kbbuild.errors import InputError, KBError

INSTRUCTIONS = (
    "Search a kbbuild knowledge base. Call list_collections to see what is there, then search with a "
    "question in natural language; cite each answer with the hit's source and pages."
)
MAX_TOP_K = 50

# (collection[@version], query, top_k, SQL filter or None) -> hits; InputError for the caller's mistakes.
SearchFunction = Callable[[str, str, int, "str | None"], list]


class KnowledgeTools:
    """What the tools do, without the protocol. ``search`` is the search the tools run: by default
    their own, one searcher per (collection, version), kept; ``serve`` passes its own, so that the MCP
    endpoint shares its loaded models, its reranker and its settings with the HTTP APIs."""

    def __init__(self, root: Path, settings: Settings, search: SearchFunction | None = None) -> None:
        self.root = root
        self.settings = settings
        self._search = search or self._search_here
        self._searchers: dict[tuple[str, int], Any] = {}
        self._registry: Any = None

    def _search_here(self, collection: str, query: str, top_k: int, where: str | None) -> list:
        return self._searcher(collection).search_configured(query, top_k, self.settings.query, where=where)

    def _searcher(self, collection: str):
        from kbbuild.retrieve.kb import SearchableKB

        name, _, ref = collection.partition("@")
        try:
            kb = SearchableKB.open(self.root, name or "default")
            version = kb.manifest(kb.resolve(ref or None)).kb_version
        except KBError:
            raise InputError(f"no collection or version '{collection}' (call list_collections)") from None
        key = (kb.collection, version)
        if key not in self._searchers:
            if self._registry is None:
                from kbbuild.plugins import Registry, make_plugin_manager

                self._registry = Registry.from_plugin_manager(make_plugin_manager(self.settings.plugins))
            self._searchers[key] = kb.searcher(version, settings=self.settings, registry=self._registry)
        return self._searchers[key]

    def warm(self) -> None:
        for collection in self.list_collections():
            self._searcher(collection["name"]).embed_query("warm-up")

    def search(self, query: str, top_k: int, collection: str, filters: dict | None) -> list[dict]:
        from kbbuild.serve.vector_stores import ComparisonFilter, CompoundFilter, filter_sql

        if not query.strip():
            raise InputError("query is empty")
        if not 1 <= top_k <= MAX_TOP_K:
            raise InputError(f"top_k must be 1..{MAX_TOP_K}")
        where = None
        if filters:
            model = CompoundFilter if filters.get("type") in ("and", "or") else ComparisonFilter
            where = filter_sql(model.model_validate(filters))
        hits = self._search(collection, query, top_k, where)
        return [
            {
                "text": hit.text,
                "source": hit.source,
                "pages": list(hit.pages),
                "heading_path": list(hit.heading_path),
                "document": hit.document,
                "score": round(hit.rerank_score if hit.rerank_score is not None else max(0.0, hit.similarity), 6),
                "rank": hit.rank,
                "chunk_id": hit.chunk_id,
                "collection": collection,
                "kb_version": hit.kb_version,
            }
            for hit in hits
        ]

    def list_versions(self, collection: str) -> list[dict]:
        from kbbuild.store.kb import KB

        try:
            kb = KB.open(self.root, collection or "default")
        except KBError:
            raise InputError(f"no collection '{collection}' (call list_collections)") from None
        tags: dict[int, list[str]] = {}
        for name, version in kb.tags().items():
            tags.setdefault(version, []).append(name)
        out = []
        for version in kb.versions():
            manifest = kb.manifest(version)
            counts = manifest.counts
            out.append(
                {
                    "version": version,
                    "created_at": manifest.created_at.isoformat(),
                    "tags": sorted(tags.get(version, [])),
                    "files": counts.files_ingested + counts.files_unchanged,
                    "files_ingested": counts.files_ingested,
                    "files_removed": counts.files_removed,
                    "chunks": counts.chunks_total,
                    "model": manifest.embedding.name,
                }
            )
        return out

    def list_collections(self) -> list[dict]:
        from kbbuild.store.kb import describe_collections

        return [
            {
                "name": c.name,
                "version": c.latest_version,
                "versions": c.versions,
                "tags": c.tags,
                "files": c.files,
                "chunks": c.chunks,
                "model": c.model,
            }
            for c in describe_collections(self.root)
            if c.latest_version is not None
        ]


def build_server(root: Path, settings: Settings, search: SearchFunction | None = None):
    """The MCP server with kbbuild's tools. A caller's mistake (an unknown collection, a bad filter)
    reaches the client as a tool error with its message; anything else is reported by the SDK as a
    failed call whose details stay in the server's log."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    tools = KnowledgeTools(root, settings, search)
    server = MCPServer(name="kbbuild", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    @server.tool(description="Search the knowledge base; returns the best chunks, each with its source to cite.")
    def search(query: str, top_k: int = 5, collection: str = "default", filters: dict | None = None) -> list[dict]:
        """query: a question in natural language. collection: a name from list_collections, optionally
        @version or @tag. filters: {"type": "eq", "key": "source", "value": "report.pdf"}, or
        {"type": "and"|"or", "filters": [...]}; keys: source, page, heading_path, kinds, chunk_index,
        n_tokens, kb_version, parser; types: eq ne gt gte lt lte in nin."""
        try:
            return tools.search(query, top_k, collection, filters)
        except (InputError, ValueError) as error:  # the caller's mistake: its message goes back to it
            raise ToolError(str(error)) from None

    @server.tool(description="List the knowledge base's collections with their current version, files and chunks.")
    def list_collections() -> list[dict]:
        return tools.list_collections()

    @server.tool(description="List a collection's versions (newest last): when, tags, files and chunks.")
    def list_versions(collection: str = "default") -> list[dict]:
        """Search a version by naming it in search's collection: 'default@3' or 'default@TAG'."""
        try:
            return tools.list_versions(collection)
        except InputError as error:
            raise ToolError(str(error)) from None

    return server, tools


def http_app(server, host: str):
    """The streamable HTTP transport of ``server`` as one ASGI app for ``serve`` to route ``/mcp`` to,
    and the context manager that must run for the app's lifetime (the SDK's session manager).
    Stateless, JSON responses: each call stands alone, as the HTTP APIs' requests do, so a server
    restart or a second worker behind a load balancer loses no session. On a loopback ``host`` the
    SDK's DNS-rebinding protection is on (a web page cannot reach the server through its browser)."""
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp

    server.streamable_http_app(stateless_http=True, json_response=True, host=host)
    return StreamableHTTPASGIApp(server.session_manager), server.session_manager.run
