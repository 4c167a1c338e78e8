"""Fuzz the gateway from its OpenAPI description: the proxy routes (fast path) and the key/admin API."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fuzz.conftest import SERVED_CHAT, SERVED_EMBEDDING
from tests.fuzz.runner import fuzz_service
from tests.support.gateway import MASTER_KEY, RunningProcess

PROXY_PATHS = {"/v1/chat/completions", "/v1/completions", "/v1/embeddings"}


def test_openapi_describes_the_fast_path_routes(gateway: RunningProcess) -> None:
    paths = httpx.get(gateway.base_url + "/openapi.json", timeout=30).json()["paths"]
    assert set(paths) >= PROXY_PATHS
    chat = paths["/v1/chat/completions"]["post"]
    assert chat["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChatCompletionRequest"
    }
    assert {"text/event-stream", "application/json"} <= set(chat["responses"]["200"]["content"])


def _served_model(label: str, body: dict[str, Any]) -> dict[str, Any]:
    """Valid bodies name a model the gateway serves, so they reach the model server behind it."""
    if label.startswith("POST /v1/"):
        body["model"] = SERVED_EMBEDDING if label.endswith("/embeddings") else SERVED_CHAT
        body.pop("timeout", None)  # a valid but tiny per-attempt timeout would only test the timeout
    return body


def test_gateway_survives_fuzzing_with_the_master_key(gateway: RunningProcess) -> None:
    report = fuzz_service(
        gateway.base_url, headers={"Authorization": f"Bearer {MASTER_KEY}"}, rewrite_body=_served_model
    )
    assert not report.failures, "\n".join(report.failures)
    assert {label.split(" ", 1)[1] for label in report.sent} >= PROXY_PATHS, report.summary()
    assert any(label.startswith("POST /key/") for label in report.sent), report.summary()
    print(report.summary())
    assert httpx.get(gateway.base_url + "/health/readiness", timeout=10).status_code == 200


def test_gateway_survives_fuzzing_without_a_key(gateway: RunningProcess) -> None:
    report = fuzz_service(gateway.base_url, examples=5)
    assert not report.failures, "\n".join(report.failures)
    assert report.statuses[401] > 0, report.summary()
    assert httpx.get(gateway.base_url + "/health/readiness", timeout=10).status_code == 200


def test_key_api_inputs_found_by_fuzzing(gateway: RunningProcess) -> None:
    """Each was a 500: a null list ({"models": null}), metadata with an integer beyond 64 bits (unstorable)."""
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    json_headers = {**headers, "Content-Type": "application/json"}
    created = httpx.post(
        gateway.base_url + "/key/generate", json={"models": None, "guardrails": None}, headers=headers, timeout=30
    )
    assert created.status_code == 200, created.text
    for path, body in (
        ("/key/generate", {"metadata": {"n": [2**70]}}),
        ("/key/update", {"key": created.json()["key"], "metadata": {"n": 2**64}}),
    ):
        raw = _json_with_big_ints(body)
        response = httpx.post(gateway.base_url + path, content=raw, headers=json_headers, timeout=30)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "metadata", response.text


def _json_with_big_ints(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()  # the standard library writes integers of any size (orjson refuses)
