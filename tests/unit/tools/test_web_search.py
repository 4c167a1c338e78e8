"""TavilyClient against FakeTavilyServer: what goes on the wire, what comes back, and every failure as a typed error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from inferstack.tools.web_search import (
    SearchAuthError,
    SearchForbiddenError,
    SearchKeyMissingError,
    SearchRateLimitError,
    SearchRequestError,
    SearchTimeoutError,
    SearchUnavailableError,
    SearchUpstreamError,
    TavilyClient,
    WebSearchError,
)
from tests.support.fake_tavily import FakeTavilyServer, fake_results
from tests.support.processes import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")

KEY = "tvly-unit-key"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTavilyServer]:
    async with FakeTavilyServer(api_keys=[KEY]) as server:
        yield server


@pytest.fixture
async def client(fake: FakeTavilyServer) -> AsyncIterator[TavilyClient]:
    async with TavilyClient(api_key=KEY, base_url=fake.base_url, timeout_s=10) as tavily:
        yield tavily


async def test_web_search_sends_tavilys_request_and_returns_its_results(
    fake: FakeTavilyServer, client: TavilyClient
) -> None:
    response = await client.web_search("  kubernetes autoscaling ", max_results=3, search_depth="advanced")
    assert response.query == "kubernetes autoscaling" and response.topic == "general"
    assert response.answer == "Fake answer for: kubernetes autoscaling"
    expected = fake_results("kubernetes autoscaling", 3, "general")
    assert [(r.title, r.url, r.content, r.score) for r in response.results] == [
        (e["title"], e["url"], e["content"], e["score"]) for e in expected
    ]
    [sent] = fake.requests
    assert (sent.path, sent.api_key, sent.key_source) == ("/search", KEY, "header")
    assert sent.body == {
        "query": "kubernetes autoscaling",
        "topic": "general",
        "search_depth": "advanced",
        "max_results": 3,
        "include_answer": True,
        "include_raw_content": False,
        "include_images": False,
    }


async def test_answer_is_absent_when_not_asked_for(client: TavilyClient) -> None:
    response = await client.web_search("llama", max_results=1, include_answer=False)
    assert response.answer is None and len(response.results) == 1


async def test_news_search_uses_topic_news_and_days(fake: FakeTavilyServer, client: TavilyClient) -> None:
    response = await client.news_search("gpu prices", max_results=2, days_back=3)
    assert response.topic == "news" and len(response.results) == 2
    assert all(r.url.startswith("https://news.example.com/") and r.published_date for r in response.results)
    body = fake.requests[-1].body
    assert (body["topic"], body["days"], body["max_results"], body["query"]) == ("news", 3, 2, "gpu prices")


async def test_a_key_given_per_request_is_used_when_none_is_configured(fake: FakeTavilyServer) -> None:
    async with TavilyClient(base_url=fake.base_url) as keyless:
        assert not keyless.has_api_key
        response = await keyless.web_search("per request", api_key=KEY)
    assert response.results and fake.requests[-1].api_key == KEY


async def test_no_key_anywhere_fails_before_any_request(fake: FakeTavilyServer) -> None:
    async with TavilyClient(api_key="", base_url=fake.base_url) as keyless:
        with pytest.raises(SearchKeyMissingError, match="TAVILY_API_KEY") as caught:
            await keyless.web_search("anything")
    assert caught.value.status_code == 401 and fake.requests == []


async def test_a_rejected_key_is_an_auth_error_that_does_not_echo_the_key(fake: FakeTavilyServer) -> None:
    async with TavilyClient(api_key="tvly-wrong-key", base_url=fake.base_url) as wrong:
        with pytest.raises(SearchAuthError, match="HTTP 401") as caught:
            await wrong.web_search("anything")
    assert "tvly-wrong-key" not in caught.value.message and fake.requests[-1].status == 401


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, SearchUpstreamError),
        (503, SearchUpstreamError),
        (429, SearchRateLimitError),
        (432, SearchForbiddenError),
        (403, SearchForbiddenError),
        (401, SearchAuthError),
    ],
)
async def test_tavily_failures_become_typed_errors(
    fake: FakeTavilyServer, client: TavilyClient, status: int, error: type[WebSearchError]
) -> None:
    fake.fail_with(status, times=1)
    with pytest.raises(error, match=f"HTTP {status}") as caught:
        await client.web_search("fails once")
    assert "Simulated failure" in caught.value.message  # Tavily's own detail is passed on
    assert (await client.web_search("works again")).results  # the failure was for one request only


async def test_tavily_bad_request_is_a_request_error(fake: FakeTavilyServer) -> None:
    async with TavilyClient(api_key=KEY, base_url=fake.base_url) as tavily:
        fake.fail_with(400, times=1)
        with pytest.raises(SearchRequestError, match="HTTP 400") as caught:
            await tavily.web_search("x")
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    "call",
    [
        {"query": "   "},
        {"query": "q", "max_results": 0},
        {"query": "q", "max_results": 11},
        {"query": "q", "search_depth": "deep"},
    ],
)
async def test_bad_arguments_are_refused_locally(
    fake: FakeTavilyServer, client: TavilyClient, call: dict[str, object]
) -> None:
    with pytest.raises(SearchRequestError):
        await client.web_search(**call)  # type: ignore[arg-type]
    assert fake.requests == []


@pytest.mark.parametrize("days_back", [0, -1, 366])
async def test_news_days_back_must_be_in_range(client: TavilyClient, days_back: int) -> None:
    with pytest.raises(SearchRequestError, match="days_back"):
        await client.news_search("q", days_back=days_back)


async def test_unreachable_tavily_is_an_unavailable_error() -> None:
    closed_port = free_port()  # nothing listens here
    async with TavilyClient(api_key=KEY, base_url=f"http://127.0.0.1:{closed_port}") as tavily:
        with pytest.raises(SearchUnavailableError, match="cannot reach Tavily"):
            await tavily.web_search("anything")


async def test_slow_tavily_is_a_timeout_error(fake: FakeTavilyServer) -> None:
    fake.delay_s = 1.0
    async with TavilyClient(api_key=KEY, base_url=fake.base_url, timeout_s=0.2) as tavily:
        with pytest.raises(SearchTimeoutError, match=r"did not answer within 0\.2 s"):
            await tavily.web_search("slow")


async def test_a_non_tavily_answer_is_an_upstream_error() -> None:
    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html>captive portal</html>", content_type="text/html")

    app = web.Application()
    app.router.add_post("/search", html)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with TavilyClient(api_key=KEY, base_url=f"http://127.0.0.1:{port}") as tavily:
            with pytest.raises(SearchUpstreamError, match="not a search response"):
                await tavily.web_search("anything")
    finally:
        await runner.cleanup()
