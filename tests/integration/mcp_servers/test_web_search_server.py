"""`inferstack mcp web-search` as a real process against the fake Tavily process, driven by the official MCP client."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.mcp_servers.sessions import error_text, http_session
from tests.support.fake_tavily import DEFAULT_API_KEY, FakeTavilyProcess, fake_results, fake_tavily_process
from tests.support.processes import RunningProcess, child_env, inferstack_process, stop

CALLER_KEY = "tvly-caller-key"


def server_env(fake: FakeTavilyProcess, key: str | None) -> dict[str, str]:
    env = child_env(INFERSTACK_MCP_WEB_SEARCH__TAVILY_BASE_URL=fake.base_url)
    for name in ("TAVILY_API_KEY", "INFERSTACK_MCP_WEB_SEARCH__TAVILY_API_KEY"):
        env.pop(name, None)
    if key is not None:
        env["TAVILY_API_KEY"] = key
    return env


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp-web-search")


@pytest.fixture(scope="module")
def fake_process(logs: Path) -> Iterator[FakeTavilyProcess]:
    with fake_tavily_process(logs, "--api-key", DEFAULT_API_KEY, "--api-key", CALLER_KEY) as fake:
        yield fake


@pytest.fixture
def fake(fake_process: FakeTavilyProcess) -> FakeTavilyProcess:
    fake_process.clear()
    fake_process.fail_with(None)
    return fake_process


@pytest.fixture(scope="module")
def keyed(logs: Path, fake_process: FakeTavilyProcess) -> Iterator[RunningProcess]:
    """A server with its own key (from TAVILY_API_KEY)."""
    env = server_env(fake_process, DEFAULT_API_KEY)
    with inferstack_process(["mcp", "web-search"], log_dir=logs, env=env, timeout=120) as server:
        yield server


@pytest.fixture(scope="module")
def keyless(logs: Path, fake_process: FakeTavilyProcess) -> Iterator[RunningProcess]:
    """A server with no key: callers must bring one in the x-tavily-api-key header."""
    env = server_env(fake_process, None)
    with inferstack_process(["mcp", "web-search"], log_dir=logs, env=env, timeout=120) as server:
        yield server


async def test_lists_exactly_the_three_tools(keyed: RunningProcess) -> None:
    async with http_session(keyed.base_url) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) == {"web_search", "news_search", "health_check"}
    assert set(tools["web_search"].input_schema["properties"]) == {
        "query",
        "max_results",
        "search_depth",
        "include_answer",
    }
    assert set(tools["news_search"].input_schema["properties"]) == {"query", "max_results", "days_back"}


def test_the_reference_health_probe_on_mcp_with_a_trailing_slash_is_answered(keyed: RunningProcess) -> None:
    """The reference app POSTs `initialize` to `<url>/mcp/` and does not follow redirects: no 307 there."""
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2024-11-05",
            "capabilities": {},
            "clientInfo": {"name": "probe", "version": "1"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream"}
    for path in ("/mcp", "/mcp/"):
        response = httpx.post(keyed.base_url + path, json=initialize, headers=headers, timeout=30)
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert '"serverInfo"' in response.text


async def test_web_search_returns_the_fake_tavily_results(keyed: RunningProcess, fake: FakeTavilyProcess) -> None:
    arguments = {"query": "ray serve autoscaling", "max_results": 3, "search_depth": "advanced"}
    async with http_session(keyed.base_url) as session:
        result = await session.call_tool("web_search", arguments)
    assert not result.is_error and result.structured_content is not None
    content = result.structured_content
    assert content["query"] == "ray serve autoscaling"
    assert content["answer"] == "Fake answer for: ray serve autoscaling"
    expected = fake_results("ray serve autoscaling", 3, "general")
    assert [{k: r[k] for k in ("title", "url", "content", "score")} for r in content["results"]] == [
        {k: e[k] for k in ("title", "url", "content", "score")} for e in expected
    ]
    [sent] = fake.requests()
    assert (sent.api_key, sent.key_source) == (DEFAULT_API_KEY, "header")
    assert (sent.body["search_depth"], sent.body["max_results"], sent.body["topic"]) == ("advanced", 3, "general")


async def test_news_search_and_health_check(keyed: RunningProcess, fake: FakeTavilyProcess) -> None:
    async with http_session(keyed.base_url) as session:
        news = await session.call_tool("news_search", {"query": "open models", "max_results": 2, "days_back": 3})
        health = await session.call_tool("health_check", {})
    assert news.structured_content is not None and news.structured_content["topic"] == "news"
    assert [r["url"] for r in news.structured_content["results"]] == [
        "https://news.example.com/open-models/1",
        "https://news.example.com/open-models/2",
    ]
    assert health.structured_content is not None and health.structured_content["status"] == "healthy"
    news_request = fake.requests()[0]
    assert (news_request.body["topic"], news_request.body["days"]) == ("news", 3)


async def test_tavily_500_is_a_clear_tool_error(keyed: RunningProcess, fake: FakeTavilyProcess) -> None:
    fake.fail_with(500, times=1)
    async with http_session(keyed.base_url) as session:
        failed = await session.call_tool("web_search", {"query": "during an outage"})
        recovered = await session.call_tool("web_search", {"query": "after the outage"})
    assert "Tavily failed (HTTP 500)" in error_text(failed)
    assert not recovered.is_error
    assert [r.status for r in fake.requests()] == [500, 200]


async def test_no_key_is_a_clear_tool_error(keyless: RunningProcess, fake: FakeTavilyProcess) -> None:
    async with http_session(keyless.base_url) as session:
        result = await session.call_tool("web_search", {"query": "anything"})
        health = await session.call_tool("health_check", {})
    message = error_text(result)
    assert "no Tavily API key" in message and "x-tavily-api-key" in message
    assert health.structured_content is not None and health.structured_content["status"] == "unconfigured"
    assert fake.requests() == []
    async with httpx.AsyncClient() as http:
        status = (await http.get(keyless.base_url + "/health")).json()
    assert status["tavily_api_key_configured"] is False


async def test_a_caller_key_in_the_header_is_used_when_the_server_has_none(
    keyless: RunningProcess, fake: FakeTavilyProcess
) -> None:
    async with http_session(keyless.base_url, headers={"x-tavily-api-key": CALLER_KEY}) as session:
        result = await session.call_tool("web_search", {"query": "bring your own key"})
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["results"][0]["title"] == "bring your own key - result 1"
    assert [(r.api_key, r.key_source) for r in fake.requests()] == [(CALLER_KEY, "header")]
    assert CALLER_KEY not in keyless.log()  # the key is never logged


async def test_a_wrong_caller_key_is_reported_as_rejected(keyless: RunningProcess, fake: FakeTavilyProcess) -> None:
    async with http_session(keyless.base_url, headers={"x-tavily-api-key": "tvly-wrong"}) as session:
        result = await session.call_tool("web_search", {"query": "q"})
    assert "Tavily rejected the API key (HTTP 401)" in error_text(result)


async def test_sigterm_stops_the_server_gracefully(logs: Path, fake_process: FakeTavilyProcess) -> None:
    env = server_env(fake_process, DEFAULT_API_KEY)
    with inferstack_process(["mcp", "web-search"], log_dir=logs, env=env, timeout=120) as server:
        async with http_session(server.base_url) as session:
            assert not (await session.call_tool("web_search", {"query": "opens a connection"})).is_error
        # uvicorn finishes its shutdown, then re-raises the signal, so the exit status is -SIGTERM.
        assert stop(server) in (0, -signal.SIGTERM)
    log = server.log()
    assert "Application shutdown complete" in log
    assert DEFAULT_API_KEY not in log
