"""Fixtures for agent unit tests: a fake chat upstream on loopback, an in-memory knowledge base, a fake web search."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from inferstack.agents.app import AgentDependencies, build_app
from inferstack.agents.mcp_tools import ToolUnavailableError
from inferstack.agents.settings import AgentSettings
from inferstack.agents.web_search import WebResult, WebSearchResult
from inferstack.retrieval.embedders.fake import FakeEmbedder
from inferstack.retrieval.stores.base import Chunk
from inferstack.retrieval.stores.memory import InMemoryVectorStore
from tests.support.fake_upstream import FakeUpstream

DIM = 64
DOCUMENTS = {
    "palsy.csv": "bell palsy facial paralysis nerve corticosteroids treatment",
    "asthma.csv": "asthma airway inflammation inhaler bronchodilator wheezing",
    "diabetes.csv": "diabetes insulin glucose pancreas blood sugar",
}


class FakeWebSearch:
    """A `WebSearcher` that records queries; `down=True` behaves like an unreachable MCP server."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.down = False
        self.results = (WebResult(title="Weather now", url="https://example.org/w", content="Sunny, 21 C", score=0.9),)

    async def search(self, query: str, max_results: int = 5) -> WebSearchResult:
        self.queries.append(query)
        if self.down:
            raise ToolUnavailableError("web_search MCP server at http://127.0.0.1:1/mcp is unavailable")
        return WebSearchResult(query=query, answer="It is sunny.", results=self.results)

    async def news(self, query: str, max_results: int = 5, days_back: int = 7) -> WebSearchResult:
        return await self.search(query, max_results)


class FakeIngestion:
    """An ingestion runner that reports progress and a report, or fails, as told."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, bool]] = []
        self.error: Exception | None = None

    async def __call__(self, path: Path, *, force: bool, on_progress: Any) -> Mapping[str, Any]:
        self.calls.append((path, force))
        on_progress({"files_done": 1, "files_total": 1})
        if self.error is not None:
            raise self.error
        return {"files": 1, "chunks": 3}


async def seeded_store(embedder: FakeEmbedder) -> InMemoryVectorStore:
    store = InMemoryVectorStore(DIM)
    texts = list(DOCUMENTS.values())
    vectors = await embedder.embed(texts)
    await store.upsert(
        [
            Chunk(id=f"{source}#0", text=text, source=source, vector=vector, metadata={"row_index": 0})
            for (source, text), vector in zip(DOCUMENTS.items(), vectors, strict=True)
        ]
    )
    return store


@pytest_asyncio.fixture(loop_scope="function")
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream(reply=lambda body: "The answer is in the context.")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder(DIM)


@pytest_asyncio.fixture(loop_scope="function")
async def store(embedder: FakeEmbedder) -> InMemoryVectorStore:
    return await seeded_store(embedder)


@pytest.fixture
def web() -> FakeWebSearch:
    return FakeWebSearch()


@pytest.fixture
def ingestion() -> FakeIngestion:
    return FakeIngestion()


def agent_settings(upstream: FakeUpstream, tmp_path: Path, **overrides: Any) -> AgentSettings:
    values: dict[str, Any] = {
        "model_base_url": upstream.base_url,
        "model": "fake-chat",
        "web_search_url": "",
        "filesystem_url": "",
        "relevance": {"threshold": 0.5, "hybrid_threshold": 0.3},
        "ingest_roots": [tmp_path],
        "output_dir": tmp_path / "out",
        "model_max_retries": 0,
        # These tests drive the model's answer path; test_grounded_answers.py drives the default extractive one.
        "answer_style": "generative",
        **overrides,
    }
    return AgentSettings(**values)


@pytest.fixture
def make_client(
    upstream: FakeUpstream,
    store: InMemoryVectorStore,
    embedder: FakeEmbedder,
    ingestion: FakeIngestion,
    tmp_path: Path,
) -> Any:
    """`make_client(web=..., **settings)` -> an httpx client on the agent app (ASGI, no sockets)."""
    clients: list[httpx.AsyncClient] = []

    def make(web: FakeWebSearch | None = None, **overrides: Any) -> httpx.AsyncClient:
        settings = agent_settings(upstream, tmp_path, **overrides)
        deps = AgentDependencies(store=store, embedder=embedder, ingest=ingestion, summary={"store": "memory"})
        app = build_app(settings, deps, web=web)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent")
        clients.append(client)
        return client

    return make
