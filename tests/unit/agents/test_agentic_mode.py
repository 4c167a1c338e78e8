"""`mode: agentic`: a Strands Agent drives the tools; sources and route come from what the tools returned."""

from __future__ import annotations

import json
from typing import Any

import pytest

from inferstack.agents.knowledge import KnowledgeBase
from inferstack.agents.toolset import ToolServices, ToolTrace, build_tools, extract_chunks
from tests.support.fake_upstream import FakeUpstream
from tests.unit.agents.conftest import FakeWebSearch

QUESTION = "bell palsy facial paralysis treatment"


def tool_results(request: dict[str, Any]) -> list[str]:
    return [str(m["content"]) for m in request["messages"] if m["role"] == "tool"]


async def test_the_model_searches_grades_and_answers_with_sources_from_the_tool(
    make_client: Any, upstream: FakeUpstream
) -> None:
    upstream.script = [
        {"name": "search_knowledge_base", "arguments": {"query": QUESTION, "top_k": 2}},
        {
            "name": "check_chunks_relevance",
            "arguments": {"results": "Content: bell palsy facial", "question": QUESTION},
        },
        "Bell palsy is treated with corticosteroids [1].",
    ]
    response = await make_client(mode="agentic").post("/query", json={"question": QUESTION, "session_id": "ag"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == "Bell palsy is treated with corticosteroids [1]."
    assert body["route"] == "knowledge"
    assert body["sources"][0]["source"] == "palsy.csv"
    assert body["relevance_detail"]["method"] == "agentic:check_chunks_relevance"
    assert len(upstream.requests) == 3
    tool_names = {tool["function"]["name"] for tool in upstream.requests[0]["tools"]}
    assert tool_names == {"check_knowledge_status", "search_knowledge_base", "check_chunks_relevance"}
    assert "corticosteroids" in tool_results(upstream.requests[1])[0]
    verdict = json.loads(tool_results(upstream.requests[2])[-1])
    assert verdict["chunk_relevance_score"] == "yes"


async def test_a_tool_error_is_an_observation_not_a_failure(make_client: Any, upstream: FakeUpstream) -> None:
    upstream.script = [
        {"name": "search_knowledge_base", "arguments": {"query": QUESTION, "top_k": 99}},
        "I could not search.",
    ]
    response = await make_client(mode="agentic").post("/query", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    assert response.json()["route"] == "none"
    assert "top_k must be between 1 and 20" in tool_results(upstream.requests[1])[0]


async def test_web_search_tool_is_offered_and_its_results_become_sources(
    make_client: Any, upstream: FakeUpstream, web: FakeWebSearch
) -> None:
    upstream.script = [{"name": "web_search", "arguments": {"query": "weather paris"}}, "Sunny."]
    response = await make_client(mode="agentic", web=web).post("/query", json={"question": "weather in paris?"})
    body = response.json()
    assert body["route"] == "web"
    assert body["sources"][0]["source"] == "https://example.org/w"
    assert web.queries == ["weather paris"]


async def test_web_search_down_is_reported_to_the_model_and_in_warnings(
    make_client: Any, upstream: FakeUpstream, web: FakeWebSearch
) -> None:
    web.down = True
    upstream.script = [{"name": "web_search", "arguments": {"query": "weather"}}, "Web search is unavailable."]
    body = (await make_client(mode="agentic", web=web).post("/query", json={"question": "weather?"})).json()
    assert body["route"] == "none"
    assert any("web search unavailable" in w for w in body["warnings"])
    assert "unavailable" in tool_results(upstream.requests[1])[0]


async def test_history_seeds_each_agent_with_its_own_session_only(make_client: Any, upstream: FakeUpstream) -> None:
    client = make_client(mode="agentic")
    upstream.script = ["first answer A", "first answer B", "second answer A"]
    await client.post("/query", json={"question": "question A", "session_id": "a"})
    await client.post("/query", json={"question": "question B", "session_id": "b"})
    await client.post("/query", json={"question": "follow-up A", "session_id": "a"})
    last = json.dumps(upstream.requests[-1]["messages"])
    assert "question A" in last and "first answer A" in last
    assert "question B" not in last


async def test_model_failure_in_agentic_mode_gets_502(make_client: Any, upstream: FakeUpstream) -> None:
    upstream.fail_status = 500  # a 503 is passed on as 503 with Retry-After (tests/unit/agents/test_upstream_outage.py)
    response = await make_client(mode="agentic").post("/query", json={"question": QUESTION})
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"


async def test_vector_store_failure_inside_a_tool_escapes_as_503(
    make_client: Any, upstream: FakeUpstream, store: Any
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        from inferstack.retrieval.stores.base import VectorStoreError

        raise VectorStoreError("milvus is down")

    store.search = broken
    upstream.script = [{"name": "search_knowledge_base", "arguments": {"query": QUESTION}}, "never sent"]
    response = await make_client(mode="agentic").post("/query", json={"question": QUESTION})
    assert response.status_code == 503
    assert "milvus is down" in response.json()["error"]["message"]
    assert len(upstream.requests) == 1  # the run was cancelled instead of asking the model again


@pytest.mark.parametrize(
    ("text", "chunks"),
    [
        (json.dumps({"results": [{"content": "alpha"}, {"content": "beta"}]}), ["alpha", "beta"]),
        ("Score: 0.9\nContent: alpha text\n\nScore: 0.5\nContent: beta text", ["alpha text", "beta text"]),
        ("just some passage", ["just some passage"]),
    ],
)
def test_extract_chunks(text: str, chunks: list[str]) -> None:
    assert extract_chunks(text) == chunks


async def test_status_tool_reports_counts(store: Any, embedder: Any) -> None:
    services = ToolServices(knowledge=KnowledgeBase(store, embedder), relevance_threshold=0.5, max_context_chars=100)
    tools = {t.tool_name: t for t in build_tools(services, ToolTrace())}
    assert set(tools) == {"check_knowledge_status", "search_knowledge_base", "check_chunks_relevance"}
    status = await tools["check_knowledge_status"]()
    assert status == {"status": "ready", "document_count": 3, "chunk_count": 3, "last_updated": None}
