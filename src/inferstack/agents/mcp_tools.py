"""Calls tools on an MCP server over streamable HTTP with the official `mcp` client, one session per call.

A session per call keeps requests independent: a server that restarts or goes down fails only the calls made
while it is down, and nothing is shared between concurrent queries. A server that cannot be reached raises
`ToolUnavailableError`; a tool that ran and reported an error raises `ToolCallError` (an observation).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from mcp.client import Client

from inferstack.core.errors import InferstackError
from inferstack.observability import genai

log = logging.getLogger(__name__)


class ToolUnavailableError(InferstackError):
    """The MCP server could not be reached, timed out or broke the protocol."""

    status_code = 503
    error_type = "overloaded_error"
    default_code = "tool_unavailable"


class ToolCallError(InferstackError):
    """The tool ran and reported an error (bad arguments, a failed search): something to show the model."""

    status_code = 502
    error_type = "upstream_error"
    default_code = "tool_error"


@dataclass(frozen=True)
class DependencyHealth:
    ok: bool
    detail: str


def health_url(mcp_url: str) -> str:
    """`http://host:8001/mcp` -> `http://host:8001/health` (every inferstack MCP server answers GET /health)."""
    parts = urlsplit(mcp_url)
    return urlunsplit((parts.scheme, parts.netloc, "/health", "", ""))


def _result_payload(result: Any) -> Any:
    """The structured result when the server sent one, else the text content parsed as JSON when possible."""
    if result.structured_content is not None:
        structured = result.structured_content
        # FastMCP wraps non-object returns as {"result": value}.
        if isinstance(structured, dict) and set(structured) == {"result"}:
            return structured["result"]
        return structured
    texts = [block.text for block in result.content if getattr(block, "type", None) == "text"]
    text = "\n".join(texts)
    try:
        return json.loads(text)
    except ValueError:
        return text


class McpToolClient:
    """Tool calls against one MCP server URL, each in its own short session."""

    def __init__(self, url: str, *, name: str, timeout_s: float, health_timeout_s: float) -> None:
        self.url = url
        self.name = name
        self._timeout = timeout_s
        self._health_timeout = health_timeout_s
        self._display = urlunsplit(urlsplit(url)._replace(query="", fragment=""))

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        with genai.tool_span(tool, self.name):
            return await self._call(tool, arguments)

    async def _call(self, tool: str, arguments: dict[str, Any]) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                async with Client(self.url, read_timeout_seconds=self._timeout) as client:
                    result = await client.call_tool(tool, arguments)
        except TimeoutError:
            raise ToolUnavailableError(f"{self.name} MCP server at {self._display} timed out") from None
        except Exception as exc:  # noqa: BLE001 - any transport/protocol failure means the server is unavailable
            log.warning("%s MCP call %s failed: %s", self.name, tool, _describe(exc))
            raise ToolUnavailableError(
                f"{self.name} MCP server at {self._display} is unavailable ({_describe(exc)})"
            ) from None
        payload = _result_payload(result)
        if result.is_error:
            raise ToolCallError(f"{self.name} tool {tool} failed: {str(payload)[:300]}")
        return payload

    async def health(self, client: httpx.AsyncClient) -> DependencyHealth:
        try:
            response = await client.get(health_url(self.url), timeout=self._health_timeout)
        except httpx.HTTPError as exc:
            return DependencyHealth(ok=False, detail=f"unreachable: {type(exc).__name__}")
        if response.status_code != 200:
            return DependencyHealth(ok=False, detail=f"GET /health answered HTTP {response.status_code}")
        return DependencyHealth(ok=True, detail="ok")


def _describe(exc: BaseException) -> str:
    """A one-line cause, looking inside exception groups (anyio task groups wrap transport errors)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
