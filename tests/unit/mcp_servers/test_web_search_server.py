"""The web-search MCP server in process (the SDK's in-memory client) against FakeTavilyServer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent
from starlette.testclient import TestClient

from inferstack.mcp_servers.assembly import McpService, build_http_app
from inferstack.mcp_servers.settings import WebSearchServerSettings
from inferstack.mcp_servers.web_search import build_web_search_service
from inferstack.tools.web_search import TavilyClient
from tests.support.fake_tavily import FakeTavilyServer, fake_results
from tests.support.processes import free_port

KEY = "tvly-server-key"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTavilyServer]:
    async with FakeTavilyServer(api_keys=[KEY]) as server:
        yield server


def service_for(base_url: str, key: str | None = KEY) -> McpService:
    return build_web_search_service(WebSearchServerSettings(tavily_base_url=base_url, tavily_api_key=key))


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


@pytest.mark.asyncio(loop_scope="session")
async def test_tools_and_their_arguments(fake: FakeTavilyServer) -> None:
    async with Client(service_for(fake.base_url).server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {"web_search", "news_search", "health_check"}
    web = tools["web_search"].input_schema
    assert set(web["properties"]) == {"query", "max_results", "search_depth", "include_answer"}
    assert web["required"] == ["query"] and web["properties"]["max_results"]["maximum"] == 10
    assert web["properties"]["search_depth"]["enum"] == ["basic", "advanced"]
    assert set(tools["news_search"].input_schema["properties"]) == {"query", "max_results", "days_back"}
    assert tools["health_check"].input_schema["properties"] == {}


@pytest.mark.asyncio(loop_scope="session")
async def test_web_and_news_results_are_tavilys(fake: FakeTavilyServer) -> None:
    async with Client(service_for(fake.base_url).server) as client:
        web = await client.call_tool("web_search", {"query": "vector databases", "max_results": 2})
        news = await client.call_tool("news_search", {"query": "vector databases", "days_back": 2})
    assert web.structured_content is not None and news.structured_content is not None
    assert web.structured_content["answer"] == "Fake answer for: vector databases"
    expected = fake_results("vector databases", 2, "general")
    assert [(r["title"], r["url"], r["score"]) for r in web.structured_content["results"]] == [
        (e["title"], e["url"], e["score"]) for e in expected
    ]
    assert news.structured_content["topic"] == "news" and len(news.structured_content["results"]) == 5
    assert all(r["published_date"] for r in news.structured_content["results"])
    sent = [r.body for r in fake.requests]
    assert (sent[0]["topic"], sent[0]["max_results"]) == ("general", 2)
    assert (sent[1]["topic"], sent[1]["days"]) == ("news", 2)
    assert {r.api_key for r in fake.requests} == {KEY}


@pytest.mark.asyncio(loop_scope="session")
async def test_no_key_is_a_clear_tool_error_and_health_says_unconfigured(fake: FakeTavilyServer) -> None:
    async with Client(service_for(fake.base_url, key=None).server) as client:
        result = await client.call_tool("web_search", {"query": "anything"})
        health = await client.call_tool("health_check", {})
    message = error_text(result)
    assert "no Tavily API key" in message and "TAVILY_API_KEY" in message and "x-tavily-api-key" in message
    assert not health.is_error and health.structured_content is not None
    assert health.structured_content["status"] == "unconfigured"
    assert fake.requests == []


@pytest.mark.asyncio(loop_scope="session")
async def test_tavily_failures_are_tool_errors_and_health_reports_them(fake: FakeTavilyServer) -> None:
    fake.fail_with(500)
    async with Client(service_for(fake.base_url).server) as client:
        failed = await client.call_tool("news_search", {"query": "anything"})
        health = await client.call_tool("health_check", {})
        fake.fail_with(None)
        healthy = await client.call_tool("health_check", {})
    assert "Tavily failed (HTTP 500)" in error_text(failed)
    assert health.structured_content is not None and healthy.structured_content is not None
    assert (health.structured_content["status"], health.structured_content["api_reachable"]) == ("unhealthy", True)
    assert healthy.structured_content["status"] == "healthy" and healthy.structured_content["error"] is None


@pytest.mark.asyncio(loop_scope="session")
async def test_arguments_out_of_range_never_reach_tavily(fake: FakeTavilyServer) -> None:
    async with Client(service_for(fake.base_url).server) as client:
        too_many = await client.call_tool("web_search", {"query": "q", "max_results": 11})
        empty = await client.call_tool("web_search", {"query": ""})
        bad_depth = await client.call_tool("web_search", {"query": "q", "search_depth": "deep"})
        old_news = await client.call_tool("news_search", {"query": "q", "days_back": 0})
    for result in (too_many, empty, bad_depth, old_news):
        assert result.is_error
    assert fake.requests == []


async def test_unreachable_tavily_is_reported() -> None:
    service = service_for(f"http://127.0.0.1:{free_port()}")
    async with Client(service.server) as client:
        failed = await client.call_tool("web_search", {"query": "q"})
        health = await client.call_tool("health_check", {})
    assert "cannot reach Tavily" in error_text(failed)
    assert health.structured_content is not None and health.structured_content["api_reachable"] is False


def test_http_health_says_whether_a_key_is_configured_without_showing_it() -> None:
    for key, configured in ((KEY, True), (None, False)):
        with TestClient(build_http_app(service_for("http://127.0.0.1:9", key=key), host="127.0.0.1")) as http:
            response = http.get("/health")
        assert response.status_code == 200
        assert response.json()["tavily_api_key_configured"] is configured
        assert KEY not in response.text


@pytest.mark.asyncio(loop_scope="session")
async def test_the_tavily_connection_pool_is_closed_when_the_server_stops(
    fake: FakeTavilyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[bool] = []
    original = TavilyClient.aclose

    async def recording_aclose(self: TavilyClient) -> None:
        closed.append(True)
        await original(self)

    monkeypatch.setattr(TavilyClient, "aclose", recording_aclose)
    async with Client(service_for(fake.base_url).server) as client:
        assert not (await client.call_tool("web_search", {"query": "q"})).is_error
        assert closed == []
    assert closed == [True]
