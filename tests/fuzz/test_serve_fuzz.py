"""Fuzz the model server from its OpenAPI description: the fake engine for breadth, the real model briefly."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fuzz.runner import EXAMPLES, fuzz_service
from tests.support.processes import RunningProcess

REAL_MODEL_EXAMPLES = max(2, EXAMPLES // 5)
GENERATION_PATHS = {"/v1/chat/completions", "/v1/completions"}


def _served_model(chat: str, embedding: str, max_tokens: int | None = None) -> Any:
    """Valid bodies name the served model (a random name only tests the 404); generation may be capped."""

    def rewrite(label: str, body: dict[str, Any]) -> dict[str, Any]:
        if label.startswith("POST /v1/"):
            body["model"] = embedding if label.endswith("/embeddings") else chat
            if max_tokens is not None and not label.endswith("/embeddings"):
                body["max_tokens"] = min(int(body.get("max_tokens") or max_tokens), max_tokens)
                body.pop("max_completion_tokens", None)
                if label.endswith("/responses"):
                    body["max_output_tokens"] = min(int(body.get("max_output_tokens") or max_tokens), max_tokens)
        return body

    return rewrite


def _healthy(server: RunningProcess) -> None:
    response = httpx.get(server.base_url + "/health", timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "ready", response.text


def test_openapi_describes_the_generation_routes(fake_model_server: RunningProcess) -> None:
    paths = httpx.get(fake_model_server.base_url + "/openapi.json", timeout=30).json()["paths"]
    assert set(paths) >= GENERATION_PATHS | {"/v1/embeddings", "/v1/models"}


def test_model_server_survives_fuzzing_on_the_fake_engine(fake_model_server: RunningProcess) -> None:
    report = fuzz_service(fake_model_server.base_url, rewrite_body=_served_model("fake-model", "fake-embedding"))
    assert not report.failures, "\n".join(report.failures)
    assert report.statuses[200] > 0 and report.statuses[400] > 0, report.summary()
    print(report.summary())
    _healthy(fake_model_server)


@pytest.mark.realmodel
def test_model_server_survives_fuzzing_on_the_real_model(real_server: RunningProcess) -> None:
    models = httpx.get(real_server.base_url + "/v1/models", timeout=30).json()["data"]
    chat = next(m["id"] for m in models if "context_length" in m)
    embedding = next(m["id"] for m in models if "dimension" in m)
    report = fuzz_service(
        real_server.base_url,
        rewrite_body=_served_model(chat, embedding, max_tokens=4),
        examples=REAL_MODEL_EXAMPLES,
        exclude_paths=("/metrics",),
    )
    assert not report.failures, "\n".join(report.failures)
    assert report.statuses[200] > 0, report.summary()
    print(report.summary())
    _healthy(real_server)
