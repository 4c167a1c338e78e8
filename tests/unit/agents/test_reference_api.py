"""The reference app's API shapes on the real agent app: its smoke scripts' calls (`POST /embed`,
`include_web_search` on /query) and the `response`/`status`/`processing_time` fields its clients read."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from inferstack.agents.settings import AgentSettings
from inferstack.stack.config_file import load_stack_config
from tests.support.fake_upstream import FakeUpstream
from tests.unit.agents.conftest import FakeIngestion, FakeWebSearch

RELEVANT = "bell palsy facial paralysis treatment"
WEATHER = "What is the weather is Arnold, CA today?"  # the reference's riv demo question, typo included


async def test_query_answer_carries_the_reference_fields_beside_ours(make_client: Any) -> None:
    response = await make_client().post("/query", json={"question": RELEVANT, "top_k": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    assert body["response"] == body["answer"] == "The answer is in the context."
    assert isinstance(body["processing_time"], float)
    assert body["processing_time"] == round(body["timings"]["total_ms"] / 1000, 3)
    assert body["session_id"] and body["route"] == "knowledge"


async def test_include_web_search_is_the_reference_name_of_use_web_search(make_client: Any, web: FakeWebSearch) -> None:
    client = make_client(web=web)
    asked = (await client.post("/query", json={"question": RELEVANT, "include_web_search": True})).json()
    assert asked["route"] == "hybrid" and web.queries == [RELEVANT]
    refused = (await client.post("/query", json={"question": WEATHER, "include_web_search": False})).json()
    assert refused["route"] != "web" and web.queries == [RELEVANT]
    both = await client.post("/query", json={"question": RELEVANT, "use_web_search": True, "include_web_search": True})
    assert both.status_code == 200 and both.json()["route"] == "hybrid"


async def test_conflicting_web_search_choices_are_a_400(make_client: Any, web: FakeWebSearch) -> None:
    for path in ("/query", "/query/stream"):
        body = {"question": RELEVANT, "use_web_search": True, "include_web_search": False}
        response = await make_client(web=web).post(path, json=body)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and "include_web_search" in error["message"]
    assert web.queries == []


async def test_stream_takes_include_web_search_too(make_client: Any, web: FakeWebSearch) -> None:
    response = await make_client(web=web).post("/query/stream", json={"question": RELEVANT, "include_web_search": True})
    assert response.status_code == 200
    assert '"route":"hybrid"' in response.text.replace(" ", "")
    assert web.queries == [RELEVANT]


async def test_embed_starts_an_ingest_job_of_the_knowledge_folder(
    make_client: Any, ingestion: FakeIngestion, tmp_path: Path
) -> None:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    client = make_client(embed_path=folder)
    response = await client.post("/embed", json={"force_refresh": False})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Knowledge embedding started in background"
    assert body["status"] == "processing" and body["path"] == str(folder.resolve())
    job = await _finished(client, body["job_id"])
    assert job["status"] == "succeeded" and job["report"] == {"files": 1, "chunks": 3}
    refreshed = (await client.post("/embed", json={"force_refresh": True})).json()
    await _finished(client, refreshed["job_id"])
    no_body = await client.post("/embed")  # curl -X POST without -d
    assert no_body.status_code == 200
    await _finished(client, no_body.json()["job_id"])
    assert ingestion.calls == [(folder.resolve(), False), (folder.resolve(), True), (folder.resolve(), False)]


async def test_embed_refuses_unknown_fields_and_says_when_there_is_no_folder(
    make_client: Any, ingestion: FakeIngestion, tmp_path: Path
) -> None:
    client = make_client(embed_path=tmp_path / "missing")
    unknown = await client.post("/embed", json={"force": True})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "force"
    missing = await client.post("/embed", json={})
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["code"] == "embed_folder_not_found" and "agent.embed_path" in error["message"]
    assert ingestion.calls == []


async def test_the_reference_smoke_script_runs_unchanged(
    make_client: Any, upstream: FakeUpstream, web: FakeWebSearch, tmp_path: Path
) -> None:
    """test_strands_endpoint_riv_demo.sh: GET /health, POST /embed, then /query with include_web_search and top_k."""
    client = make_client(web=web, embed_path=tmp_path)
    assert (await client.get("/health")).status_code == 200
    assert (await client.post("/embed", json={"force_refresh": False})).json()["status"] == "processing"
    weather = (await client.post("/query", json={"question": WEATHER, "include_web_search": True})).json()
    assert weather["status"] == "success" and weather["response"] and weather["route"] == "web"
    palsy = (await client.post("/query", json={"question": RELEVANT, "top_k": 3})).json()
    assert palsy["status"] == "success" and palsy["response"] == "The answer is in the context."
    assert "/embed" in (await client.get("/")).json()["endpoints"]


async def _finished(client: Any, job_id: str) -> dict[str, Any]:
    for _ in range(200):
        job: dict[str, Any] = (await client.get(f"/ingest/{job_id}")).json()
        if job["status"] not in ("queued", "running"):
            return job
        await asyncio.sleep(0.01)
    raise AssertionError(f"ingest job {job_id} did not finish")


def test_up_points_embed_at_the_stack_knowledge_folder(tmp_path: Path) -> None:
    knowledge = tmp_path / "my-docs"
    knowledge.mkdir()
    path = tmp_path / "inferstack.yaml"
    path.write_text(yaml.safe_dump({"stack": {"web_search": False}}))
    config = load_stack_config(path, overrides={"data_dir": tmp_path / "d", "knowledge": knowledge}, environ={})
    assert config.effective["agent"]["embed_path"] == str(knowledge.resolve())
    assert AgentSettings(**config.effective["agent"]).embed_path == knowledge.resolve()
