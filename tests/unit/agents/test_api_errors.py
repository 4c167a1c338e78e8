"""Every failure of the agent API has its real status code and an OpenAI-style error body, never 200."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from inferstack.retrieval.embedders.base import EmbeddingError
from inferstack.retrieval.stores.base import SearchHit, VectorStoreError
from tests.support.fake_upstream import FakeUpstream


def assert_error(response: Any, status: int, error_type: str, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == error_type
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return error


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 4001}, "question"),
        ({"question": "ok", "top_k": 0}, "top_k"),
        ({"question": "ok", "top_k": 21}, "top_k"),
        ({"question": "ok", "session_id": "bad id with spaces"}, "session_id"),
        ({"question": "ok", "use_web_search": "maybe"}, "use_web_search"),
        ({"question": "ok", "include_web_search": "maybe"}, "include_web_search"),
        ({"question": "ok", "include_websearch": True}, "include_websearch"),  # unknown fields stay refused
    ],
)
async def test_invalid_query_bodies_get_400_naming_the_field(make_client: Any, body: Any, param: str) -> None:
    for path in ("/query", "/query/stream"):
        error = assert_error(await make_client().post(path, json=body), 400, "invalid_request_error")
        assert error["param"] == param


async def test_non_json_body_gets_400(make_client: Any) -> None:
    response = await make_client().post("/query", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(response, 400, "invalid_request_error")


async def test_a_body_over_the_limit_gets_413(make_client: Any) -> None:
    client = make_client(max_body_bytes=2048)
    response = await client.post("/query", json={"question": "x" * 3000})
    assert_error(response, 413, "invalid_request_error", "payload_too_large")


async def test_model_upstream_failure_gets_502(make_client: Any, upstream: FakeUpstream) -> None:
    upstream.fail_status = 500
    client = make_client()
    error = assert_error(
        await client.post("/query", json={"question": "bell palsy"}), 502, "upstream_error", "upstream_status"
    )
    assert "HTTP 500" in error["message"]
    assert_error(await client.post("/query/stream", json={"question": "bell palsy"}), 502, "upstream_error")


async def test_unreachable_model_upstream_gets_502(make_client: Any) -> None:
    client = make_client(model_base_url="http://127.0.0.1:9/v1")
    error = assert_error(await client.post("/query", json={"question": "bell palsy"}), 502, "upstream_error")
    assert error["code"] == "upstream_unreachable"


async def test_throttled_upstream_gets_503(make_client: Any, upstream: FakeUpstream) -> None:
    upstream.fail_status = 429
    response = await make_client().post("/query", json={"question": "bell palsy"})
    assert_error(response, 503, "overloaded_error")
    assert response.headers["retry-after"] == "2"


class DownStore:
    """A vector store whose every call fails, like an unreachable Milvus."""

    dimension = 64

    async def search(
        self, vector: Sequence[float], top_k: int, where: Mapping[str, Any] | None = None
    ) -> list[SearchHit]:
        raise VectorStoreError("vector store unreachable")

    async def count(self) -> int:
        raise VectorStoreError("vector store unreachable")

    async def sources(self) -> set[str]:
        raise VectorStoreError("vector store unreachable")

    async def close(self) -> None:
        return None


async def test_vector_store_down_gets_503_and_unhealthy(
    upstream: FakeUpstream, embedder: Any, ingestion: Any, tmp_path: Any
) -> None:
    import httpx

    from inferstack.agents.app import AgentDependencies, build_app
    from tests.unit.agents.conftest import agent_settings

    deps = AgentDependencies(store=DownStore(), embedder=embedder, ingest=ingestion)  # type: ignore[arg-type]
    app = build_app(agent_settings(upstream, tmp_path), deps)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent") as client:
        assert_error(await client.post("/query", json={"question": "bell palsy"}), 503, "overloaded_error")
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["dependencies"]["vector_store"]["ok"] is False
        assert_error(await client.get("/status"), 503, "overloaded_error")


class FailingEmbedder:
    dimension = 64

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise EmbeddingError("embeddings endpoint answered HTTP 500")

    async def close(self) -> None:
        return None


async def test_embedding_failure_gets_502_and_never_searches_with_a_made_up_vector(
    upstream: FakeUpstream, store: Any, ingestion: Any, tmp_path: Any
) -> None:
    import httpx

    from inferstack.agents.app import AgentDependencies, build_app
    from tests.unit.agents.conftest import agent_settings

    deps = AgentDependencies(store=store, embedder=FailingEmbedder(), ingest=ingestion)  # type: ignore[arg-type]
    app = build_app(agent_settings(upstream, tmp_path), deps)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent") as client:
        error = assert_error(await client.post("/query", json={"question": "bell palsy"}), 502, "upstream_error")
        assert error["code"] == "embedding_failed"
    assert upstream.requests == []


async def test_unknown_job_and_session_get_404(make_client: Any) -> None:
    client = make_client()
    assert_error(await client.get("/ingest/ingest-nope"), 404, "not_found_error", "job_not_found")
    assert_error(await client.get("/sessions/nope"), 404, "not_found_error", "session_not_found")
    assert_error(await client.delete("/sessions/nope"), 404, "not_found_error")
    assert_error(await client.get("/no-such-path"), 404, "not_found_error")


async def test_server_api_key_is_required_except_on_health_and_metrics(make_client: Any) -> None:
    client = make_client(server_api_key="sk-agent-test")
    assert_error(await client.post("/query", json={"question": "bell palsy"}), 401, "authentication_error")
    wrong = await client.post("/query", json={"question": "q"}, headers={"Authorization": "Bearer sk-wrong"})
    assert_error(wrong, 401, "authentication_error", "invalid_api_key")
    ok = await client.post("/query", json={"question": "bell palsy"}, headers={"Authorization": "Bearer sk-agent-test"})
    assert ok.status_code == 200
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200
    assert_error(await client.get("/status"), 401, "authentication_error")


async def test_a_query_past_its_deadline_gets_504_and_counts_as_timeout(
    make_client: Any, upstream: FakeUpstream
) -> None:
    upstream.reply = lambda body: " ".join(["slow"] * 50)
    upstream.token_delay_s = 0.05
    client = make_client(timeouts={"query_s": 0.3})
    response = await client.post("/query", json={"question": "bell palsy facial paralysis treatment"})
    assert_error(response, 504, "timeout_error", "query_timeout")
    metrics = (await client.get("/metrics")).text
    assert 'inferstack_agent_queries_total{outcome="timeout",route="knowledge"} 1.0' in metrics
