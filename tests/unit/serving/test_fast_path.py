"""The generation routes served in front of FastAPI keep the shared behaviour: error shape and status, body
limit, wrong method, unexpected errors, and a client that leaves mid-stream stopping the generation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator, Sequence

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message

from inferstack.serving.app import build_app
from inferstack.serving.engines.base import ChatTurn, GenerationChunk, PreparedPrompt, SamplingParams
from inferstack.serving.engines.fake import FakeEngine
from inferstack.serving.settings import ServeSettings

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(build_app(ServeSettings(engine="fake", max_body_bytes=1024))) as c:
        yield c


def assert_openai_error(response: object, status: int, error_type: str) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    error: dict[str, object] = response.json()["error"]  # type: ignore[attr-defined]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == error_type
    return error


def test_wrong_method_is_405_in_openai_shape(client: TestClient) -> None:
    response = client.get("/v1/chat/completions")
    assert_openai_error(response, 405, "invalid_request_error")
    assert response.headers["allow"] == "POST"


def test_invalid_json_and_invalid_fields_are_400(client: TestClient) -> None:
    bad_json = client.post("/v1/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert (
        assert_openai_error(bad_json, 400, "invalid_request_error")["message"] == "the request body is not valid JSON"
    )
    missing = client.post("/v1/chat/completions", json={"model": "fake-model"})
    assert assert_openai_error(missing, 400, "invalid_request_error")["param"] == "messages"


def test_unknown_model_is_404(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={**CHAT, "model": "other"})
    assert assert_openai_error(response, 404, "not_found_error")["param"] == "model"


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 2000}]}
    response = client.post("/v1/chat/completions", json=big)
    assert assert_openai_error(response, 413, "invalid_request_error")["code"] == "payload_too_large"


def test_completions_stream_and_request_metrics(client: TestClient) -> None:
    body = {"model": "fake-model", "prompt": "one two three", "max_tokens": 3, "stream": True}
    response = client.post("/v1/completions", json=body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert response.text.endswith("data: [DONE]\n\n")
    metrics = client.get("/metrics").text
    assert 'route="/v1/completions",status="200"' in metrics


class FakeBrokenEngine(FakeEngine):
    async def prepare_chat(self, turns: Sequence[ChatTurn]) -> PreparedPrompt:
        raise RuntimeError("secret internal detail")


def test_unexpected_error_is_500_without_details() -> None:
    app = build_app(ServeSettings(engine="fake"), engine=FakeBrokenEngine())
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.post("/v1/chat/completions", json=CHAT)
    error = assert_openai_error(response, 500, "server_error")
    assert "secret" not in str(error)


class FakeEndlessEngine(FakeEngine):
    """Streams until closed, and records that it was."""

    def __init__(self) -> None:
        super().__init__(slots=1)
        self.closed = asyncio.Event()

    async def generate(self, prompt: PreparedPrompt, params: SamplingParams) -> AsyncGenerator[GenerationChunk, None]:
        try:
            while True:
                yield GenerationChunk(text="more ")
                await asyncio.sleep(0.001)
        finally:
            self.closed.set()


async def test_a_client_leaving_mid_stream_stops_generation_and_frees_the_slot() -> None:
    engine = FakeEndlessEngine()
    app = build_app(ServeSettings(engine="fake"), engine=engine)
    lifespan, lifespan_inbox = await _start(app)
    body = orjson.dumps({**CHAT, "stream": True})
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    sent: list[Message] = []
    some_tokens_sent = asyncio.Event()
    requests = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        if requests:
            return requests.pop()
        await some_tokens_sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if len(sent) > 5:
            some_tokens_sent.set()

    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    assert sent[0]["status"] == 200
    assert engine.closed.is_set()
    admission = app.app.app.state.chat._generation._admission  # type: ignore[attr-defined]
    assert admission.in_flight == 0
    await lifespan_inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(lifespan, timeout=30)


async def _start(app: ASGIApp) -> tuple[asyncio.Future[None], asyncio.Queue[Message]]:
    """Run the lifespan start-up (the model load) and wait for ready; returns the lifespan task and its inbox."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    assert (await asyncio.wait_for(outbox.get(), timeout=30))["type"] == "lifespan.startup.complete"
    state = app.app.app.state  # type: ignore[attr-defined]
    for _ in range(1000):
        if state.status == "ready":
            return lifespan, inbox
        await asyncio.sleep(0.01)
    raise AssertionError(f"the app never became ready: {state.status}")
