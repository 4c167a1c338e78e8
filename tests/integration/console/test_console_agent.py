"""The console's Ask and Knowledge API against a real gateway whose `console.agent_url` points at a fake agent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import orjson
import pytest

from tests.integration.console.test_console_api import signed_in
from tests.support.fake_agent import DEFAULT_API_KEY, FakeAgentProcess, gateway_with_fake_agent
from tests.support.gateway import MASTER_KEY, RunningProcess, fake_upstream, new_key

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningProcess, FakeAgentProcess, Path]]:
    tmp = tmp_path_factory.mktemp("console-agent")
    with fake_upstream(tmp, "a") as upstream, gateway_with_fake_agent(tmp, upstream) as (gateway, agent):
        yield gateway, agent, tmp


def test_ask_proxies_the_query_with_the_agent_key_and_a_trace(
    stack: tuple[RunningProcess, FakeAgentProcess, Path],
) -> None:
    gateway, agent, _ = stack
    holder = new_key(gateway, key_alias="asker")
    client, csrf = signed_in(gateway, holder)
    with closing(client):
        assert client.get("/ui/api/agent").json() == {"configured": True}
        question = {"question": "How long do returns take?", "use_web_search": False}
        assert client.post("/ui/api/ask", json=question).status_code == 403  # no CSRF token
        reply = client.post("/ui/api/ask", json=question, headers={"X-CSRF-Token": csrf})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        bad = client.post("/ui/api/ask", json={"question": "x", "model": "y"}, headers={"X-CSRF-Token": csrf})
        assert bad.status_code == 400 and bad.json()["error"]["message"]
    assert body["answer"] == "Fake agent answer to: How long do returns take?"
    assert body["route"] == "knowledge" and body["sources"][0]["source"] == "sample/returns-policy.md"
    assert body["timings"]["total_ms"] > 0
    queries = [r for r in agent.requests() if r["path"] == "/query"]
    assert len(queries) == 1, "refused calls never reach the agent"
    sent = queries[0]
    assert sent["body"] == question
    assert sent["authorization"] == f"Bearer {DEFAULT_API_KEY}"  # the agent's key, never the user's
    assert sent["traceparent"].split("-")[1] == body["trace_id"]
    assert holder not in reply.text and DEFAULT_API_KEY not in reply.text
    assert DEFAULT_API_KEY not in gateway.log() and holder not in gateway.log()


def _events(text: str) -> list[tuple[str, dict[str, object]]]:
    """An SSE body as (event name, JSON data) pairs."""
    found = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((lines["event"], orjson.loads(lines["data"])))
    return found


def test_ask_streams_the_agents_events_after_the_trace_id(stack: tuple[RunningProcess, FakeAgentProcess, Path]) -> None:
    gateway, agent, _ = stack
    holder = new_key(gateway, key_alias="stream-asker")
    client, csrf = signed_in(gateway, holder)
    question = {"question": "Do you ship abroad?", "session_id": "console-s1"}
    with closing(client):
        assert client.post("/ui/api/ask/stream", json=question).status_code == 403  # no CSRF token
        with client.stream("POST", "/ui/api/ask/stream", json=question, headers={"X-CSRF-Token": csrf}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = _events(response.read().decode())
        blank = client.post("/ui/api/ask/stream", json={"question": " "}, headers={"X-CSRF-Token": csrf})
    names = [name for name, _ in events]
    assert names[:2] == ["trace", "route"] and names[-1] == "done" and set(names[2:-1]) == {"token"}
    trace_id = events[0][1]["trace_id"]
    route, done = events[1][1], events[-1][1]
    assert route["route"] == "knowledge" and route["relevance"] == 0.82
    assert "".join(str(data["delta"]) for name, data in events if name == "token") == done["answer"]
    assert done["answer"] == "Fake agent answer to: Do you ship abroad?" and done["session_id"] == "console-s1"
    sent = next(r for r in agent.requests() if r["path"] == "/query/stream")
    assert sent["traceparent"].split("-")[1] == trace_id
    assert sent["authorization"] == f"Bearer {DEFAULT_API_KEY}" and sent["body"] == question
    assert blank.status_code == 400 and blank.json()["error"]["code"] == "invalid_value"  # the agent's own refusal


def test_knowledge_lists_ingests_with_progress_and_removes_for_admins_only(
    stack: tuple[RunningProcess, FakeAgentProcess, Path],
) -> None:
    gateway, agent, tmp = stack
    (tmp / "docs" / "team").mkdir(parents=True, exist_ok=True)
    (tmp / "docs" / "team" / "onboarding.md").write_text("# Onboarding\n")
    holder_client, holder_csrf = signed_in(gateway, new_key(gateway))
    with closing(holder_client):
        assert holder_client.get("/ui/api/knowledge").status_code == 403
        refused = holder_client.post(
            "/ui/api/knowledge/ingest", json={"path": str(tmp / "docs")}, headers={"X-CSRF-Token": holder_csrf}
        )
        assert refused.status_code == 403
        removal = {"source": "sample/shipping-times.md"}
        headers = {"X-CSRF-Token": holder_csrf}
        assert holder_client.post("/ui/api/knowledge/remove", json=removal, headers=headers).status_code == 403
    client, csrf = signed_in(gateway, MASTER_KEY)
    with closing(client):
        listed = client.get("/ui/api/knowledge").json()
        assert [d["source"] for d in listed["documents"]] == ["sample/returns-policy.md", "sample/shipping-times.md"]
        assert (listed["document_count"], listed["chunk_count"]) == (2, 7)
        assert client.post("/ui/api/knowledge/ingest", json={"path": str(tmp / "docs")}).status_code == 403
        outside = client.post("/ui/api/knowledge/ingest", json={"path": str(tmp)}, headers={"X-CSRF-Token": csrf})
        assert outside.status_code == 403 and outside.json()["error"]["code"] == "path_not_allowed"
        started = client.post(
            "/ui/api/knowledge/ingest", json={"path": str(tmp / "docs" / "team")}, headers={"X-CSRF-Token": csrf}
        )
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        states = [client.get(f"/ui/api/knowledge/jobs/{job_id}").json() for _ in range(2)]
        assert [s["status"] for s in states] == ["running", "succeeded"]
        assert states[1]["progress"]["files_done"] == states[1]["progress"]["files_total"] == 1
        assert client.get("/ui/api/knowledge/jobs/bad..id").status_code == 400
        assert "team/onboarding.md" in [d["source"] for d in client.get("/ui/api/knowledge").json()["documents"]]
        removed = client.post(
            "/ui/api/knowledge/remove", json={"source": "sample/shipping-times.md"}, headers={"X-CSRF-Token": csrf}
        )
        assert removed.status_code == 200 and removed.json()["chunks_removed"] == 3
        again = client.post(
            "/ui/api/knowledge/remove", json={"source": "sample/shipping-times.md"}, headers={"X-CSRF-Token": csrf}
        )
        assert again.status_code == 404
    assert all(r["owner_key"] is None for r in agent.requests()), "the console never sends the owner key"


def test_health_lists_the_gateway_the_agent_and_each_dependency_the_agent_reports(
    stack: tuple[RunningProcess, FakeAgentProcess, Path],
) -> None:
    gateway, agent, _ = stack
    client, _ = signed_in(gateway, MASTER_KEY)
    with closing(client):
        health = client.get("/ui/api/health").json()
    assert health["agent_configured"] is True
    services = {s["name"]: s for s in health["services"]}
    assert list(services) == [
        "gateway",
        "agent",
        "gateway (from the agent)",
        "knowledge store",
        "web-search MCP",
        "filesystem MCP",
    ]
    assert services["gateway"]["state"] == "ok" and services["gateway"]["url"] == gateway.base_url
    assert services["agent"]["state"] == "degraded" and services["agent"]["url"] == agent.base_url
    assert services["agent"]["detail"] == "3 of 4 dependencies ok"
    assert (services["knowledge store"]["state"], services["knowledge store"]["detail"]) == ("ok", "42 chunks")
    web = services["web-search MCP"]
    assert (web["state"], web["detail"], web["required"]) == ("degraded", "unreachable: ConnectError", False)


def test_without_an_agent_url_the_pages_say_not_configured(console_gateway: RunningProcess) -> None:
    client, csrf = signed_in(console_gateway, MASTER_KEY)
    with closing(client):
        assert client.get("/ui/api/agent").json() == {"configured": False}
        health = client.get("/ui/api/health").json()
        assert health["agent_configured"] is False
        assert [(s["name"], s["state"]) for s in health["services"]] == [("gateway", "ok")]
        reply = client.post("/ui/api/ask", json={"question": "hello"}, headers={"X-CSRF-Token": csrf})
        assert reply.status_code == 404 and reply.json()["error"]["code"] == "agent_not_configured"
        assert client.get("/ui/api/knowledge").json()["error"]["code"] == "agent_not_configured"
    assert httpx.get(console_gateway.base_url + "/ui/api/agent").status_code == 401
