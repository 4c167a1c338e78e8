"""Fuzz the agent's API from its OpenAPI description, on the real gateway and the fake-engine model server."""

from __future__ import annotations

import httpx

from tests.fuzz.runner import REQUEST_TIMEOUT_S, fuzz_service, openai_error_shape
from tests.support.processes import RunningProcess


def test_agent_survives_fuzzing(agent: RunningProcess) -> None:
    report = fuzz_service(agent.base_url)
    assert not report.failures, "\n".join(report.failures)
    assert any(label.startswith("POST /query") for label in report.sent), report.summary()
    print(report.summary())
    assert httpx.get(agent.base_url + "/health", timeout=10).status_code == 200


HOSTILE_BODIES = [
    b"",
    b"not json",
    b"[]",
    b"null",
    b'"a string"',
    b"{}",
    b'{"question": null}',
    b'{"question": ""}',
    b'{"question": 7}',
    b'{"question": ["a"]}',
    b'{"question": "hi", "unknown_field": 1}',
    b'{"question": "hi", "session_id": {"an": "object"}}',
    b'{"question": "hi", "use_web_search": "yes"}',
    b'{"question": "\\u0000\\ud800"}',
    b'{"path": "/etc"}',
    b'{"path": "~no-such-user-4f1c/x"}',
    b'{"path": "a\\u0000b"}',
    b"[" * 5_000 + b"]" * 5_000,
]


def test_hostile_bodies_get_clean_errors(agent: RunningProcess) -> None:
    sent = 0
    for path in ("/query", "/query/stream", "/ingest", "/embed"):
        for body in HOSTILE_BODIES:
            response = httpx.post(
                agent.base_url + path,
                content=body,
                headers={"Content-Type": "application/json"},
                timeout=REQUEST_TIMEOUT_S,
            )
            sent += 1
            assert response.status_code < 500, (path, body[:80], response.text[:300])
            if response.status_code >= 400:
                assert openai_error_shape(response.status_code, response.json()) is None, (path, body[:80])
    assert sent == 4 * len(HOSTILE_BODIES)
    assert httpx.get(agent.base_url + "/health", timeout=10).status_code == 200
