"""`inferstack mcp web-search`: Tavily search served as MCP tools web_search, news_search and health_check.

The Tavily key comes from the server's settings; when the server has none, a client may send its own in the
`x-tavily-api-key` HTTP header (per request, never stored or logged). No key, a rejected key, or Tavily being
down is an MCP tool error with a clear message; results are only ever Tavily's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from inferstack import __version__
from inferstack.mcp_servers.assembly import McpService
from inferstack.mcp_servers.settings import WebSearchServerSettings
from inferstack.mcp_servers.tool_calls import ToolCalls
from inferstack.tools.web_search import (
    MAX_DAYS_BACK,
    MAX_RESULTS_LIMIT,
    SearchDepth,
    SearchKeyMissingError,
    SearchResponse,
    SearchTimeoutError,
    SearchUnavailableError,
    TavilyClient,
    WebSearchError,
)

KEY_HEADER = "x-tavily-api-key"
NO_KEY_MESSAGE = (
    "web search is not configured: this server has no Tavily API key (set TAVILY_API_KEY or "
    f"mcp.web_search.tavily_api_key where it runs), and the request carried no {KEY_HEADER} header"
)
INSTRUCTIONS = (
    "Search the web and recent news through Tavily. Each result has a title, url, content snippet and "
    "relevance score; cite the url when you use a result."
)

_SEARCH = ToolAnnotations(read_only_hint=True, open_world_hint=True)

MaxResults = Annotated[int, Field(ge=1, le=MAX_RESULTS_LIMIT, description="How many results to return.")]


class SearchHealth(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Literal["healthy", "unhealthy", "unconfigured"]
    service: str = "tavily-web-search"
    api_key_configured: bool
    api_reachable: bool
    error: str | None = None
    checked_at: str


def build_web_search_service(settings: WebSearchServerSettings) -> McpService:
    tavily = TavilyClient(
        api_key=settings.tavily_api_key, base_url=settings.tavily_base_url, timeout_s=settings.timeout_s
    )
    calls = ToolCalls("web-search")

    @asynccontextmanager
    async def lifespan(_: MCPServer[None]) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await tavily.aclose()

    server: MCPServer[None] = MCPServer(
        "inferstack-web-search", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan
    )

    def request_key(ctx: Context[Any, Any]) -> str | None:
        """The caller's key from the HTTP header, used only when the server has no key of its own."""
        if tavily.has_api_key:
            return None
        headers = ctx.headers  # None over stdio
        key = headers.get(KEY_HEADER, "").strip() if headers is not None else ""
        return key or None

    def require_key(ctx: Context[Any, Any]) -> str | None:
        key = request_key(ctx)
        if key is None and not tavily.has_api_key:
            raise SearchKeyMissingError(NO_KEY_MESSAGE)
        return key

    @server.tool(annotations=_SEARCH)
    @calls.instrument
    async def web_search(
        ctx: Context[Any, Any],
        query: Annotated[str, Field(min_length=1, description="What to search the web for.")],
        max_results: MaxResults = 5,
        search_depth: Annotated[
            SearchDepth, Field(description="'basic' is fast; 'advanced' searches more thoroughly and costs more.")
        ] = "basic",
        include_answer: Annotated[bool, Field(description="Also return a short answer written by Tavily.")] = True,
    ) -> SearchResponse:
        """Search the web. Returns the query, an optional short answer, and results [{title, url, content, score}]."""
        key = require_key(ctx)
        return await tavily.web_search(
            query, max_results=max_results, search_depth=search_depth, include_answer=include_answer, api_key=key
        )

    @server.tool(annotations=_SEARCH)
    @calls.instrument
    async def news_search(
        ctx: Context[Any, Any],
        query: Annotated[str, Field(min_length=1, description="What to search recent news for.")],
        max_results: MaxResults = 5,
        days_back: Annotated[
            int, Field(ge=1, le=MAX_DAYS_BACK, description="Only news published in this many past days.")
        ] = 7,
    ) -> SearchResponse:
        """Search recent news. Returns results [{title, url, content, score, published_date}] and a short answer."""
        key = require_key(ctx)
        return await tavily.news_search(query, max_results=max_results, days_back=days_back, api_key=key)

    @server.tool(annotations=_SEARCH)
    @calls.instrument
    async def health_check(ctx: Context[Any, Any]) -> SearchHealth:
        """Check that Tavily answers with the configured key. Runs one one-result search, which Tavily bills."""
        key = request_key(ctx)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        if key is None and not tavily.has_api_key:
            return SearchHealth(
                status="unconfigured",
                api_key_configured=False,
                api_reachable=False,
                error=NO_KEY_MESSAGE,
                checked_at=now,
            )
        try:
            await tavily.web_search("health check", max_results=1, include_answer=False, api_key=key)
        except WebSearchError as exc:
            reached = not isinstance(exc, SearchUnavailableError | SearchTimeoutError)
            return SearchHealth(
                status="unhealthy", api_key_configured=True, api_reachable=reached, error=exc.message, checked_at=now
            )
        return SearchHealth(status="healthy", api_key_configured=True, api_reachable=True, checked_at=now)

    def health() -> tuple[bool, dict[str, Any]]:
        return True, {"tavily_api_key_configured": tavily.has_api_key, "tavily_base_url": settings.tavily_base_url}

    return McpService(name="web-search", server=server, tool_calls=calls, health=health)
