"""``kbbuild mcp``: a real MCP client session (the MCP Python SDK's stdio client) launches the
command as an assistant would, lists its tools and calls them on a real KB."""

from __future__ import annotations

import json
import os
import sys

import anyio
import pytest

pytestmark = pytest.mark.slow


def _session(kb, calls):
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "kbbuild", "mcp", "--kb", str(kb)],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )

    async def run():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await calls(session)

    return anyio.run(run)


def _payload(result) -> object:
    assert not result.is_error, result
    if result.structured_content is not None:
        content = result.structured_content
        return content.get("result", content) if isinstance(content, dict) else content
    return json.loads(result.content[0].text)


def test_an_mcp_client_lists_the_tools_and_searches_with_citations(sample_kb):
    pytest.importorskip("mcp", reason="the mcp extra is not installed (pip install 'kbbuild[mcp]')")
    kb, _ = sample_kb

    async def calls(session):
        tools = await session.list_tools()
        collections = await session.call_tool("list_collections", {})
        hits = await session.call_tool(
            "search", {"query": "How often must the pressure sensor be recalibrated?", "top_k": 3}
        )
        filtered = await session.call_tool(
            "search",
            {
                "query": "How often must the pressure sensor be recalibrated?",
                "filters": {"type": "ne", "key": "source", "value": "northwind_field_manual.pdf"},
            },
        )
        missing = await session.call_tool("search", {"query": "x", "collection": "nope"})
        versions = await session.call_tool("list_versions", {"collection": "default"})
        pinned = await session.call_tool("search", {"query": "pressure sensor", "collection": "default@1", "top_k": 1})
        return tools, collections, hits, filtered, missing, versions, pinned

    tools, collections, hits, filtered, missing, versions, pinned = _session(kb, calls)
    assert {tool.name for tool in tools.tools} == {"search", "list_collections", "list_versions"}
    [default] = _payload(collections)
    assert default["name"] == "default" and default["version"] == 1 and default["files"] >= 9
    found = _payload(hits)
    assert 1 <= len(found) <= 3
    top = found[0]
    assert "90 days" in top["text"] and top["source"] == "northwind_field_manual.pdf" and top["pages"] == [3]
    assert top["chunk_id"] and top["kb_version"] == 1 and 0 < top["score"] <= 1
    assert "northwind_field_manual.pdf" not in {hit["source"] for hit in _payload(filtered)}
    assert missing.is_error and "no collection or version 'nope'" in missing.content[0].text
    [first] = _payload(versions)
    assert first["version"] == 1 and first["files"] >= 9 and first["chunks"] > 0 and first["created_at"]
    assert _payload(pinned)[0]["kb_version"] == 1


def test_serve_answers_the_same_tools_over_mcp_http_behind_its_key(sample_kb):
    """``kbbuild serve`` routes /mcp to the same tools over MCP's streamable HTTP transport: a real
    SDK client session over real HTTP, with the service's Bearer key; without the key the request
    is refused before MCP sees it. The hits are the Dify endpoint's for the same query."""
    pytest.importorskip("mcp", reason="the mcp extra is not installed (pip install 'kbbuild[mcp]')")
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    from kbbuild.serve.app import create_app

    from .test_serve import KEY, quiet, running

    kb, _ = sample_kb
    question = "How often must the pressure sensor be recalibrated?"
    with running(create_app(kb, quiet(), KEY)) as http:
        url = f"{http.base_url}/mcp"
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        assert http.post("/mcp", json=initialize).status_code == 401
        dify = http.post(
            "/retrieval",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"knowledge_id": "default", "query": question, "retrieval_setting": {"top_k": 3}},
        ).json()["records"]

        async def run():
            headers = {"Authorization": f"Bearer {KEY}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=60) as client,
                streamable_http_client(url, http_client=client) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                tools = await session.list_tools()
                hits = await session.call_tool("search", {"query": question, "top_k": 3})
                missing = await session.call_tool("search", {"query": "x", "collection": "nope"})
                collections = await session.call_tool("list_collections", {})
                return tools, hits, missing, collections

        tools, hits, missing, collections = anyio.run(run)
    assert {tool.name for tool in tools.tools} == {"search", "list_collections", "list_versions"}
    found = _payload(hits)
    assert [hit["chunk_id"] for hit in found] == [record["metadata"]["chunk_id"] for record in dify]
    assert "90 days" in found[0]["text"] and found[0]["pages"] == [3]
    assert missing.is_error and "no collection 'nope'" in missing.content[0].text
    assert _payload(collections)[0]["name"] == "default"
