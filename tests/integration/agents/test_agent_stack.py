"""`inferstack agent` as a real process with the real models, Milvus Lite, both MCP servers and a fake Tavily.

Tests run in file order; the last one stops the web-search MCP server.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest

from inferstack.agents.mcp_tools import McpToolClient
from inferstack.agents.output_files import OutputFiles
from inferstack.core.errors import InvalidRequestError
from inferstack.sample_knowledge import eval_questions_path
from tests.integration.agents.conftest import AgentStack
from tests.support.processes import RunningProcess, stop

pytestmark = pytest.mark.realmodel


def labelled_questions() -> list[dict[str, Any]]:
    """The first labelled question of each topic (ten topics, ten sources)."""
    firsts: dict[str, dict[str, Any]] = {}
    for line in eval_questions_path().read_text().splitlines():
        item = json.loads(line)
        firsts.setdefault(item["topic"], item)
    return list(firsts.values())


def test_ingest_job_reports_and_status_counts_the_knowledge(agent_stack: AgentStack) -> None:
    job = agent_stack.ingest_job
    assert job["report"]["files_added"] == 10
    assert job["report"]["chunks_written"] >= 200
    assert job["progress"]["phase"] == "done"
    status = agent_stack.get("/status").json()
    assert status["knowledge"]["document_count"] == 10
    assert status["knowledge"]["chunk_count"] == job["report"]["chunks_written"]
    assert status["knowledge"]["last_updated"] is not None
    assert status["config"]["knowledge"]["store"] == "milvus"
    health = agent_stack.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert set(health.json()["dependencies"]) == {"gateway", "vector_store", "web_search", "filesystem"}


def test_labelled_questions_are_answered_from_the_knowledge_base_citing_their_source(
    agent_stack: AgentStack,
) -> None:
    questions = labelled_questions()
    with ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(lambda q: agent_stack.post("/query", {"question": q["question"]}).json(), questions))
    cited = 0
    for question, body in zip(questions, bodies, strict=True):
        assert body["route"] in ("knowledge", "hybrid"), (question, body)
        assert body["answer"]
        assert 0.0 <= body["relevance"] <= 1.0
        sources = [s["source"] for s in body["sources"] if s["kind"] == "knowledge"]
        cited += question["source"] in sources
    # The exact-retrieval check of this corpus finds the labelled source first for ~97% of questions.
    assert cited >= 9, bodies


def test_time_sensitive_question_goes_to_web_search_through_mcp(agent_stack: AgentStack) -> None:
    agent_stack.tavily.clear()
    question = "What is the latest news about Kubernetes today?"
    body = agent_stack.post("/query", {"question": question}).json()
    assert body["route"] == "web", body
    assert body["time_sensitive"] in ("latest news", "today")
    assert body["sources"] and all(s["kind"] == "web" for s in body["sources"])
    assert body["sources"][0]["source"].startswith("https://example.com/")
    assert [request.body["query"] for request in agent_stack.tavily.requests()] == [question]


def test_concurrent_sessions_keep_their_own_history(agent_stack: AgentStack) -> None:
    questions = labelled_questions()[:8]

    def conversation(index: int) -> tuple[dict[str, Any], dict[str, Any]]:
        session = f"iso-{index}"
        first = agent_stack.post("/query", {"question": questions[index]["question"], "session_id": session})
        follow_up = agent_stack.post("/query", {"question": "Can you tell me more about that?", "session_id": session})
        return first.json(), follow_up.json()

    with ThreadPoolExecutor(8) as pool:
        conversations = list(pool.map(conversation, range(8)))
    topics = [{s["source"] for s in first["sources"]} for first, _ in conversations]
    for index, (first, follow_up) in enumerate(conversations):
        turns = agent_stack.get(f"/sessions/iso-{index}").json()["turns"]
        assert [t["question"] for t in turns] == [questions[index]["question"], "Can you tell me more about that?"]
        assert [t["answer"] for t in turns] == [first["answer"], follow_up["answer"]]
        # The vague follow-up was searched with this session's earlier question, not another session's.
        assert follow_up["sources"][0]["source"] in topics[index], (index, first["sources"], follow_up["sources"])


def test_stream_sends_route_tokens_and_timings(agent_stack: AgentStack) -> None:
    question = labelled_questions()[0]
    with httpx.stream(
        "POST", agent_stack.agent.base_url + "/query/stream", json={"question": question["question"]}, timeout=120
    ) as response:
        assert response.status_code == 200
        raw = response.read()
    events = []
    for block in raw.decode().split("\n\n"):
        if block.strip():
            lines = dict(line.split(": ", 1) for line in block.splitlines())
            events.append((lines["event"], orjson.loads(lines["data"])))
    assert events[0][0] == "route"
    assert events[0][1]["sources"][0]["source"] == question["source"]
    assert events[-1][0] == "done"
    tokens = [data["delta"] for name, data in events if name == "token"]
    assert tokens
    assert "".join(tokens).strip() == events[-1][1]["answer"]
    timings = events[-1][1]["timings"]
    # An extractive answer (the default) is composed from its evidence without a model call.
    assert events[0][1]["answer_style"] == "extractive" or timings["generation_ms"] > 0
    assert timings["total_ms"] >= timings["generation_ms"] >= 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/query", {"question": ""}, 400),
        ("POST", "/query", {"question": "ok", "top_k": 50}, 400),
        ("POST", "/query", {"question": "x" * 20000}, 413),
        ("GET", "/ingest/ingest-unknown", None, 404),
        ("GET", "/sessions/unknown-session", None, 404),
        ("POST", "/ingest", {"path": "/definitely/not/here"}, 400),
        ("POST", "/ingest", {"path": "/etc"}, 403),
    ],
)
def test_error_cases_have_their_status_codes(
    agent_stack: AgentStack, method: str, path: str, body: Any, status: int
) -> None:
    response = httpx.request(method, agent_stack.agent.base_url + path, json=body, timeout=30)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


def test_vector_store_down_is_503_and_model_down_is_502(broken_agent: RunningProcess) -> None:
    health = httpx.get(broken_agent.base_url + "/health", timeout=30)
    assert health.status_code == 503
    dependencies = health.json()["dependencies"]
    assert dependencies["vector_store"]["ok"] is False
    assert dependencies["gateway"]["ok"] is False
    assert dependencies["web_search"]["ok"] is True
    store_down = httpx.post(broken_agent.base_url + "/query", json={"question": "What is a light-year?"}, timeout=60)
    assert store_down.status_code == 503, store_down.text
    assert store_down.json()["error"]["code"]
    model_down = httpx.post(broken_agent.base_url + "/query", json={"question": "Weather in Oslo today?"}, timeout=60)
    assert model_down.status_code == 502, model_down.text
    assert model_down.json()["error"]["type"] == "upstream_error"


def test_file_tools_go_through_the_sandboxed_filesystem_server(agent_stack: AgentStack) -> None:
    client = McpToolClient(
        agent_stack.filesystem.base_url + "/mcp", name="filesystem", timeout_s=30, health_timeout_s=5
    )
    files = OutputFiles(client)

    async def exercise() -> Any:
        await files.write("reports/answer.md", "# Answer\n")
        await files.write("reports/answer.md", "more\n", append=True)
        with pytest.raises(InvalidRequestError):
            await files.write("../escape.md", "no")
        return await files.read("reports/answer.md")

    content = asyncio.run(exercise())
    assert (agent_stack.output_dir / "reports" / "answer.md").read_text() == "# Answer\nmore\n"
    assert "# Answer" in json.dumps(content)
    assert not (agent_stack.output_dir.parent / "escape.md").exists()


def test_web_search_down_leaves_knowledge_answers_and_degraded_health(agent_stack: AgentStack) -> None:
    stop(agent_stack.web_search)
    health = agent_stack.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["dependencies"]["web_search"]["status"] == "degraded"
    question = labelled_questions()[2]
    body = agent_stack.post("/query", {"question": question["question"], "use_web_search": True}).json()
    assert body["route"] == "knowledge", body
    assert body["sources"][0]["source"] == question["source"]
    assert any("web search unavailable" in warning for warning in body["warnings"])
    unrelated = agent_stack.post("/query", {"question": "Who painted the Mona Lisa?"}).json()
    assert unrelated["route"] == "none"
    assert "not available" in unrelated["answer"]
    metrics = agent_stack.get("/metrics").text
    assert 'inferstack_agent_queries_total{outcome="ok",route="knowledge"}' in metrics
    assert "inferstack_agent_web_search_failures_total 2.0" in metrics
