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
