"""Parsing of web-search tool results, MCP URLs, output-file paths, and an MCP server that cannot be reached."""

from __future__ import annotations

import math

import pytest

from inferstack.agents.mcp_tools import McpToolClient, ToolCallError, ToolUnavailableError, health_url
from inferstack.agents.output_files import OutputFiles, checked_relative_path
from inferstack.agents.web_search import WebSearch, parse_search_payload
from inferstack.core.errors import InvalidRequestError
from tests.support.processes import free_port


def test_search_payload_reads_results_or_news_results() -> None:
    web = parse_search_payload(
        "q",
        {"query": "q", "answer": "A", "results": [{"title": "t", "url": "u", "content": "c", "score": 0.5}]},
    )
    assert web.answer == "A"
    assert [(r.title, r.url, r.content, r.score) for r in web.results] == [("t", "u", "c", 0.5)]
    news = parse_search_payload("q", {"news_results": [{"title": "n", "url": "v", "content": "d", "score": "nan"}]})
    assert news.answer is None
    assert news.results[0].score == 0.0 and not math.isnan(news.results[0].score)


@pytest.mark.parametrize("payload", ["plain text", {"error": "quota exceeded", "results": []}, {"answer": "x"}])
def test_unusable_search_payloads_are_tool_errors(payload: object) -> None:
    with pytest.raises(ToolCallError):
        parse_search_payload("q", payload)


def test_health_url_sits_beside_the_mcp_path() -> None:
    assert health_url("http://127.0.0.1:8001/mcp") == "http://127.0.0.1:8001/health"
    assert health_url("https://search.internal/tools/mcp/?x=1") == "https://search.internal/health"


@pytest.mark.parametrize("path", ["/etc/passwd", "../up.txt", "a/../../b", "", "C:/x", "x\x00y", "a" * 300])
def test_output_paths_outside_the_output_directory_are_refused(path: str) -> None:
    with pytest.raises(InvalidRequestError):
        checked_relative_path(path)


def test_output_paths_are_normalised() -> None:
    assert checked_relative_path(" reports\\today.md ") == "reports/today.md"
    assert checked_relative_path("./a/./b.txt") == "a/b.txt"


async def test_an_unreachable_mcp_server_is_tool_unavailable_quickly() -> None:
    client = McpToolClient(f"http://127.0.0.1:{free_port()}/mcp", name="web_search", timeout_s=10, health_timeout_s=1)
    with pytest.raises(ToolUnavailableError) as caught:
        await WebSearch(client).search("anything")
    assert "unavailable" in caught.value.message
    with pytest.raises(InvalidRequestError):
        await OutputFiles(client).write("../x", "no")
