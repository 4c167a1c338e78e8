"""Web search for the agent: the web-search MCP server's `web_search` and `news_search` tools, parsed into results.

The payload is read leniently (`results` or `news_results`, each with title/url/content/score) because the MCP
server may add fields; a payload with neither list is a `ToolCallError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from inferstack.agents.mcp_tools import McpToolClient, ToolCallError


@dataclass(frozen=True)
class WebResult:
    title: str
    url: str
    content: str
    score: float


@dataclass(frozen=True)
class WebSearchResult:
    query: str
    answer: str | None
    results: tuple[WebResult, ...]


def _score(value: Any) -> float:
    try:
        score = float(value)
    except (TypeError, ValueError):
        return 0.0
    return score if math.isfinite(score) else 0.0


def parse_search_payload(query: str, payload: Any) -> WebSearchResult:
    if not isinstance(payload, dict):
        raise ToolCallError(f"web search returned {type(payload).__name__}, not an object")
    if payload.get("error"):
        raise ToolCallError(f"web search failed: {str(payload['error'])[:300]}")
    items = payload.get("results")
    if items is None:
        items = payload.get("news_results")
    if not isinstance(items, list):
        raise ToolCallError("web search returned no results list")
    results = tuple(
        WebResult(
            title=str(item.get("title") or ""),
            url=str(item.get("url") or ""),
            content=str(item.get("content") or ""),
            score=_score(item.get("score")),
        )
        for item in items
        if isinstance(item, dict)
    )
    answer = payload.get("answer")
    return WebSearchResult(query=query, answer=str(answer) if answer else None, results=results)


class WebSearcher(Protocol):
    async def search(self, query: str, max_results: int = 5) -> WebSearchResult: ...

    async def news(self, query: str, max_results: int = 5, days_back: int = 7) -> WebSearchResult: ...


class WebSearch:
    """`WebSearcher` over the web-search MCP server."""

    def __init__(self, client: McpToolClient) -> None:
        self.client = client

    async def search(self, query: str, max_results: int = 5) -> WebSearchResult:
        payload = await self.client.call(
            "web_search",
            {"query": query, "max_results": max_results, "search_depth": "basic", "include_answer": True},
        )
        return parse_search_payload(query, payload)

    async def news(self, query: str, max_results: int = 5, days_back: int = 7) -> WebSearchResult:
        payload = await self.client.call(
            "news_search", {"query": query, "max_results": max_results, "days_back": days_back}
        )
        return parse_search_payload(query, payload)
