"""Health, status, metrics, ingest jobs and the SSE stream of the agent API (fake upstream, in-memory store)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn

from inferstack.agents.app import AgentDependencies, build_app
from inferstack.core.errors import UpstreamError
from tests.support.fake_upstream import FakeUpstream
from tests.support.processes import free_port
from tests.unit.agents.conftest import FakeIngestion, agent_settings


async def test_health_is_ok_when_gateway_and_store_answer(make_client: Any) -> None:
    response = await make_client().get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["dependencies"]["gateway"]["ok"] is True
    assert body["dependencies"]["vector_store"] == {"ok": True, "status": "ok", "required": True, "detail": "3 chunks"}


async def test_mcp_servers_down_make_the_agent_degraded_not_unhealthy(make_client: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}/mcp"
    response = await make_client(web_search_url=dead, filesystem_url=dead).get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["dependencies"]["web_search"]["status"] == "degraded"
    assert body["dependencies"]["web_search"]["ok"] is False
    assert "unreachable" in body["dependencies"]["filesystem"]["error"]


async def test_gateway_down_makes_the_agent_unhealthy(make_client: Any) -> None:
    response = await make_client(model_base_url=f"http://127.0.0.1:{free_port()}/v1").get("/health")
    assert response.status_code == 503
    assert response.json()["dependencies"]["gateway"]["status"] == "down"


async def test_status_summarises_config_and_knowledge_without_secrets(make_client: Any) -> None:
    client = make_client(api_key="sk-upstream-secret", server_api_key="sk-server-secret")
    response = await client.get("/status", headers={"Authorization": "Bearer sk-server-secret"})
    assert response.status_code == 200
    body = response.json()
    assert body["knowledge"]["chunk_count"] == 3
    assert body["knowledge"]["document_count"] == 3
    assert body["knowledge"]["status"] == "ready"
    assert body["config"]["upstream_api_key_set"] is True
    assert body["config"]["mode"] == "supervisor"
    assert "secret" not in response.text


async def test_metrics_count_queries_by_route_and_time_stages(make_client: Any, upstream: FakeUpstream) -> None:
    client = make_client()
    await client.post("/query", json={"question": "bell palsy facial paralysis treatment"})
    upstream.fail_status = 500
    await client.post("/query", json={"question": "bell palsy facial paralysis treatment"})
    text = (await client.get("/metrics")).text
    assert 'inferstack_agent_queries_total{outcome="ok",route="knowledge"} 1.0' in text
    assert 'inferstack_agent_queries_total{outcome="upstream_error",route="knowledge"} 1.0' in text
    assert 'inferstack_agent_stage_duration_seconds_count{stage="retrieval"} 2.0' in text
    assert 'inferstack_agent_stage_duration_seconds_count{stage="generation"} 1.0' in text
    assert 'inferstack_agent_requests_total{route="/query",status="502"} 1.0' in text


async def poll_job(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    for _ in range(200):
        body: dict[str, Any] = (await client.get(f"/ingest/{job_id}")).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish")


async def test_ingest_runs_in_the_background_and_reports(
    make_client: Any, ingestion: FakeIngestion, tmp_path: Path
) -> None:
    client = make_client()
    docs = tmp_path / "docs"
    docs.mkdir()
    response = await client.post("/ingest", json={"path": str(docs), "force": True})
    assert response.status_code == 202
    job = await poll_job(client, response.json()["job_id"])
    assert job["status"] == "succeeded"
    assert job["report"] == {"files": 1, "chunks": 3}
    assert job["progress"] == {"files_done": 1, "files_total": 1}
    assert ingestion.calls == [(docs.resolve(), True)]
    status = (await client.get("/status")).json()
    assert status["knowledge"]["last_updated"] is not None
    assert 'inferstack_agent_ingest_jobs_total{status="succeeded"} 1.0' in (await client.get("/metrics")).text


async def test_a_failed_ingest_reports_its_error(make_client: Any, ingestion: FakeIngestion, tmp_path: Path) -> None:
    ingestion.error = UpstreamError("embeddings endpoint unreachable", code="embedding_failed")
    client = make_client()
    job_id = (await client.post("/ingest", json={"path": str(tmp_path)})).json()["job_id"]
    job = await poll_job(client, job_id)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "embedding_failed"
    assert job["report"] is None


async def test_ingest_paths_must_exist_and_stay_inside_the_roots(make_client: Any, tmp_path: Path) -> None:
    client = make_client()
    missing = await client.post("/ingest", json={"path": str(tmp_path / "missing")})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "path_not_found"
    outside = await client.post("/ingest", json={"path": "/etc"})
    assert outside.status_code == 403
    sneaky = await client.post("/ingest", json={"path": str(tmp_path / ".." / "..")})
    assert sneaky.status_code == 403
    link = tmp_path / "link"
    link.symlink_to("/etc")
    assert (await client.post("/ingest", json={"path": str(link)})).status_code == 403
    extra = await client.post("/ingest", json={"path": str(tmp_path), "recursive": True})
    assert extra.status_code == 400


def parse_sse(raw: bytes) -> list[tuple[str, Any]]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], orjson.loads(lines["data"])))
    return events


async def test_stream_sends_route_then_tokens_then_timings(make_client: Any, upstream: FakeUpstream) -> None:
    answer = " ".join(f"word{i}" for i in range(40))  # past the cleaner's hold-back: several token events
    upstream.reply = lambda body: answer
    response = await make_client().post("/query/stream", json={"question": "bell palsy facial", "session_id": "st"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.content)
    names = [name for name, _ in events]
    assert names[0] == "route" and names[-1] == "done"
    assert names[1:-1] == ["token"] * (len(names) - 2) and len(names) - 2 > 10
    assert events[0][1]["route"] == "knowledge"
    assert events[0][1]["sources"][0]["source"] == "palsy.csv"
    assert "".join(data["delta"] for name, data in events if name == "token") == answer
    assert events[-1][1]["answer"] == answer
    assert events[-1][1]["timings"]["total_ms"] > 0


async def test_client_disconnect_stops_generation_upstream(
    upstream: FakeUpstream, store: Any, embedder: Any, ingestion: Any, tmp_path: Path
) -> None:
    upstream.reply = lambda body: " ".join(f"word{i}" for i in range(400))  # no loop: only the client stops it
    upstream.token_delay_s = 0.02
    port = free_port()
    deps = AgentDependencies(store=store, embedder=embedder, ingest=ingestion)
    app = build_app(agent_settings(upstream, tmp_path), deps)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
            client.stream("POST", "/query/stream", json={"question": "bell palsy"}) as response,
        ):
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("event: token"):
                    break
        for _ in range(300):
            if upstream.streams_cut:
                break
            await asyncio.sleep(0.01)
        assert upstream.streams_cut == 1
        assert upstream.streams_finished == 0
        metrics = (await httpx.AsyncClient().get(f"http://127.0.0.1:{port}/metrics")).text
        assert 'inferstack_agent_queries_total{outcome="cancelled",route="knowledge"} 1.0' in metrics
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
