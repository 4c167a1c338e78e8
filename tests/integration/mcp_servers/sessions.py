"""Open an official MCP `ClientSession` on a running server, over streamable HTTP or stdio."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from tests.support.processes import REPO_ROOT, child_env


@asynccontextmanager
async def http_session(base_url: str, headers: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    """An initialized session on `<base_url>/mcp`; `headers` go on every HTTP request."""
    timeout = httpx2.Timeout(60.0, read=120.0)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout, follow_redirects=True) as http,
        streamable_http_client(base_url + "/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@asynccontextmanager
async def stdio_session(args: list[str], stderr_path: Path) -> AsyncIterator[ClientSession]:
    """`python -m inferstack <args>` as a stdio MCP server; its stderr (the logs) goes to `stderr_path`."""
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "inferstack", *args], env=child_env(), cwd=REPO_ROOT
    )
    with stderr_path.open("w") as errlog:
        async with stdio_client(server, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


def error_text(result: CallToolResult) -> str:
    """The message of a tool error (an `isError` result); fails if the call succeeded."""
    assert result.is_error, f"expected a tool error, got {result.structured_content}"
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text
