"""A one-slot server with no queue and an API key: overload, disconnect, auth and body limits."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.support.processes import RunningProcess, child_env, model_server

MODEL = "smollm2-135m-instruct"
KEY = "test-key-123"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    env = child_env(INFERSTACK_SERVE_MAX_BODY_BYTES="4096", INFERSTACK_API_KEY=KEY)
    with model_server(
        tmp_path_factory.mktemp("limited"),
        "--parallel",
        "1",
        "--max-queue",
        "0",
        "--ctx-size",
        "2048",
        "--no-embeddings",
        env=env,
    ) as proc:
        yield proc


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


def counter(base_url: str, name: str) -> float:
    for line in httpx.get(base_url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} missing")


def slots_busy(base_url: str) -> float:
    return counter(base_url, "inferstack_slots_busy")


def test_api_key_is_required_and_checked(limited: RunningProcess) -> None:
    chat = limited.base_url + "/v1/chat/completions"
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    missing = httpx.post(chat, json=body)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
    assert httpx.post(chat, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.post(chat, json=body, headers=auth()).status_code == 200
    assert httpx.get(limited.base_url + "/health").status_code == 200  # probes need no key
    client = openai.OpenAI(base_url=limited.base_url + "/v1", api_key="bad", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_body_over_limit_is_413(limited: RunningProcess) -> None:
    big = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 5000}]}
    response = httpx.post(limited.base_url + "/v1/chat/completions", json=big, headers=auth())
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


def test_full_slots_and_queue_give_503_with_retry_after(limited: RunningProcess) -> None:
    client = openai.OpenAI(base_url=limited.base_url + "/v1", api_key=KEY, max_retries=0)
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Write a very long story."}],
        max_tokens=1500,
        stream=True,
    )
    next(iter(stream))
    try:
        refused = httpx.post(
            limited.base_url + "/v1/chat/completions",
            headers=auth(),
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        )
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"]["type"] == "overloaded_error"
    finally:
        stream.close()


def test_disconnect_frees_the_slot(limited: RunningProcess) -> None:
    cancelled_before = counter(limited.base_url, "inferstack_cancelled_generations_total")
    host, port = limited.base_url.removeprefix("http://").split(":")
    body = (
        b'{"model":"%s","stream":true,"max_tokens":1800,"messages":[{"role":"user","content":"Write a long story"}]}'
        % MODEL.encode()
    )
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request)
        received = b""
        while received.count(b"data: ") < 3:
            received += sock.recv(4096)
        assert slots_busy(limited.base_url) == 1
    deadline = time.monotonic() + 10
    while slots_busy(limited.base_url) != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slots_busy(limited.base_url) == 0
    # The slot really is free: a new request is admitted and served.
    ok = httpx.post(
        limited.base_url + "/v1/chat/completions",
        headers=auth(),
        timeout=60,
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3},
    )
    assert ok.status_code == 200
    assert counter(limited.base_url, "inferstack_cancelled_generations_total") == cancelled_before + 1


def test_non_streaming_disconnect_cancels_generation(limited: RunningProcess) -> None:
    # The schema forces a long answer, so the client gives up long before the model is done.
    long_answer = {
        "type": "json_schema",
        "json_schema": {
            "name": "long",
            "schema": {
                "type": "object",
                "properties": {"story": {"type": "string", "minLength": 4000}},
                "required": ["story"],
            },
        },
    }
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            limited.base_url + "/v1/chat/completions",
            headers=auth(),
            timeout=1.0,
            json={
                "model": MODEL,
                "max_tokens": 1800,
                "response_format": long_answer,
                "messages": [{"role": "user", "content": "A long story"}],
            },
        )
    deadline = time.monotonic() + 10
    while slots_busy(limited.base_url) != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slots_busy(limited.base_url) == 0
