"""`tunedoc mcp` as a real subprocess: an MCP client lists its tools and calls diagnose on the seed case."""

import asyncio
import json
import os
import sys
from pathlib import Path

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.unit.test_engine_acceptance import SEED


def test_mcp_server_lists_tools_and_diagnoses(data_dir: Path, retriever):
    params = StdioServerParameters(command=str(Path(sys.executable).with_name("tunedoc")), args=["mcp"],
                                   env={**os.environ, "TUNEDOC_DATA_DIR": str(data_dir)})

    async def session() -> tuple[set[str], dict, str]:
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as client:
                await client.initialize()
                tools = {tool.name for tool in (await client.list_tools()).tools}
                diagnosed = await client.call_tool("diagnose", {"text": SEED, "format": "json"})
                markdown = await client.call_tool("diagnose", {"log": SEED.splitlines()[-1], "config": "bf16: true"})
                unknown = await client.call_tool("explain", {"diagnosis_id": "fp16-overflw"})
                assert "bf16-numerical-instability" in markdown.content[0].text and not markdown.is_error
                assert unknown.is_error and "fp16-overflow" in unknown.content[0].text
                explained = await client.call_tool("explain", {"diagnosis_id": "fp16-overflow"})
                return tools, json.loads(diagnosed.content[0].text), explained.content[0].text

    tools, result, page = asyncio.run(asyncio.wait_for(session(), timeout=240))
    assert {"diagnose", "search", "explain"} <= tools
    assert result["diagnoses"][0]["id"] == "bf16-numerical-instability"
    assert page.startswith("# ")
