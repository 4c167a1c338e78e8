"""The agent's tools as Strands tools, built per request around shared services and a per-request `ToolTrace`.

    check_knowledge_status, search_knowledge_base, check_chunks_relevance   (always)
    web_search, news_search                                                (when a web-search MCP is configured)
    file_read, file_write                                                  (when a filesystem MCP is configured)
    get_current_weather, get_weather_forecast                              (when a weather MCP is configured)

A tool's own failure (bad arguments, a search that failed, a server that is down) is returned as an error result
the model can react to. Infrastructure failures the query cannot survive (the vector store or the embedding
model) are recorded in the trace, the run is cancelled, and the agentic strategy re-raises them.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from strands import tool

from inferstack.agents.knowledge import KnowledgeBase, merge_hits
from inferstack.agents.mcp_tools import McpToolClient, ToolCallError, ToolUnavailableError
from inferstack.agents.output_files import OutputFiles
from inferstack.agents.relevance import finite_unit
from inferstack.agents.web_search import WebResult, WebSearcher
from inferstack.core.errors import InferstackError, InvalidRequestError
from inferstack.retrieval.embedders.base import EmbeddingError
from inferstack.retrieval.stores.base import SearchHit, VectorStoreError

_CONTENT = re.compile(r"Content:\s*(.*?)(?=\n\s*Score:|\Z)", re.DOTALL)
MAX_TOOL_TOP_K = 20


@dataclass
class ToolTrace:
    """What the tools of one request did: hits and web results seen, best relevance, a fatal error."""

    hits: list[SearchHit] = field(default_factory=list)
    web_results: list[WebResult] = field(default_factory=list)
    relevance: float | None = None
    warnings: list[str] = field(default_factory=list)
    fatal: InferstackError | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def fail(self, exc: InferstackError) -> None:
        self.fatal = self.fatal or exc
        self.cancel.set()


@dataclass(frozen=True)
class ToolServices:
    knowledge: KnowledgeBase
    relevance_threshold: float
    max_context_chars: int
    web: WebSearcher | None = None
    files: OutputFiles | None = None
    weather: McpToolClient | None = None


def extract_chunks(results: str) -> list[str]:
    """Chunk texts from `search_knowledge_base` output (JSON), `Content:` blocks, or the whole text."""
    try:
        parsed = json.loads(results)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("results"), list):
        texts = [str(item.get("content", "")) for item in parsed["results"] if isinstance(item, dict)]
        if any(texts):
            return [text for text in texts if text]
    blocks = [block.strip() for block in _CONTENT.findall(results) if block.strip()]
    return blocks or [results.strip()]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return finite_unit(dot / norm) if norm else 0.0


def build_tools(services: ToolServices, trace: ToolTrace) -> list[Any]:
    knowledge = services.knowledge

    async def guarded(coro: Any) -> Any:
        """Fatal infrastructure errors are recorded and re-raised; Strands turns the raise into an error result."""
        try:
            return await coro
        except (VectorStoreError, EmbeddingError) as exc:
            trace.fail(exc)
            raise

    @tool
    async def check_knowledge_status() -> dict[str, Any]:
        """Report whether the knowledge base holds documents, how many, and when it was last updated."""
        status = await guarded(knowledge.status())
        return {
            "status": status.status,
            "document_count": status.documents,
            "chunk_count": status.chunks,
            "last_updated": status.last_updated,
        }

    @tool
    async def search_knowledge_base(query: str, top_k: int = 5) -> dict[str, Any]:
        """Search the knowledge base for passages about `query`.

        Args:
            query: What to look for, in natural language.
            top_k: How many passages to return (1 to 20).
        """
        if not 1 <= top_k <= MAX_TOOL_TOP_K:
            raise InvalidRequestError(f"top_k must be between 1 and {MAX_TOOL_TOP_K}")
        hits: list[SearchHit] = await guarded(knowledge.search([query], top_k))
        trace.hits = merge_hits([trace.hits, hits], len(trace.hits) + len(hits))
        return {
            "query": query,
            "total_results": len(hits),
            "results": [
                {"source": hit.source, "content": hit.text[: services.max_context_chars], "score": round(hit.score, 4)}
                for hit in hits
            ],
        }

    @tool
    async def check_chunks_relevance(results: str, question: str) -> dict[str, Any]:
        """Judge whether search results are relevant to the question (embedding similarity).

        Args:
            results: The output of search_knowledge_base, or the passages as text.
            question: The user's original question.
        """
        if not results.strip() or not question.strip():
            raise InvalidRequestError("results and question must both be non-empty")
        chunks = extract_chunks(results)[:5]
        vectors = await guarded(knowledge.embedder.embed([question, *chunks]))
        score = max((_cosine(vectors[0], vector) for vector in vectors[1:]), default=0.0)
        trace.relevance = max(score, trace.relevance or 0.0)
        relevant = score >= services.relevance_threshold
        return {
            "chunk_relevance_score": "yes" if relevant else "no",
            "chunk_relevance_value": round(score, 4),
            "threshold": services.relevance_threshold,
            "evaluation_method": "embedding_similarity",
        }

    tools: list[Any] = [check_knowledge_status, search_knowledge_base, check_chunks_relevance]

    if services.web is not None:
        web = services.web

        @tool
        async def web_search(query: str, max_results: int = 5) -> dict[str, Any]:
            """Search the web; use for news, weather and other current or time-sensitive questions.

            Args:
                query: The search query.
                max_results: How many results to return (1 to 10).
            """
            try:
                found = await web.search(query, max(1, min(max_results, 10)))
            except (ToolUnavailableError, ToolCallError) as exc:
                trace.warnings.append(f"web search unavailable: {exc.message}")
                raise
            trace.web_results.extend(found.results)
            return {
                "answer": found.answer,
                "results": [{"title": r.title, "url": r.url, "content": r.content[:400]} for r in found.results],
            }

        @tool
        async def news_search(query: str, max_results: int = 5, days_back: int = 7) -> dict[str, Any]:
            """Search recent news articles.

            Args:
                query: The news topic.
                max_results: How many articles to return (1 to 10).
                days_back: How many days back to look.
            """
            try:
                found = await web.news(query, max(1, min(max_results, 10)), max(1, days_back))
            except (ToolUnavailableError, ToolCallError) as exc:
                trace.warnings.append(f"news search unavailable: {exc.message}")
                raise
            trace.web_results.extend(found.results)
            return {
                "answer": found.answer,
                "results": [{"title": r.title, "url": r.url, "content": r.content[:400]} for r in found.results],
            }

        tools += [web_search, news_search]

    if services.files is not None:
        files = services.files

        @tool
        async def file_read(path: str) -> Any:
            """Read a file from the output directory.

            Args:
                path: Path relative to the output directory.
            """
            return await files.read(path)

        @tool
        async def file_write(path: str, content: str, append: bool = False) -> Any:
            """Write text to a file in the output directory (only when the user asks to save something).

            Args:
                path: Path relative to the output directory, e.g. "report.md".
                content: The text to write.
                append: Append instead of replacing the file.
            """
            return await files.write(path, content, append)

        tools += [file_read, file_write]

    if services.weather is not None:
        weather = services.weather

        @tool
        async def get_current_weather(city: str) -> Any:
            """The weather now in a city (temperature with units, conditions, the city's local time).

            Args:
                city: The city name, e.g. "Tokyo".
            """
            return await weather.call("get_current_weather", {"city": city})

        @tool
        async def get_weather_forecast(city: str, days: int = 3) -> Any:
            """The daily forecast for a city for 1 to 16 days.

            Args:
                city: The city name, e.g. "Paris".
                days: How many days, 1 to 16.
            """
            return await weather.call("get_weather_forecast", {"city": city, "days": days})

        tools += [get_current_weather, get_weather_forecast]
    return tools
