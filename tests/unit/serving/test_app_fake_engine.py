"""The HTTP layer over the deterministic fake engine: shapes, errors, admission, metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from inferstack.core.settings import load_settings
from inferstack.serving.app import build_app
from inferstack.serving.engines.fake import FakeEngine
from inferstack.serving.settings import ServeSettings


def make_client(**overrides: object) -> TestClient:
    settings = ServeSettings(engine="fake", **overrides)  # type: ignore[arg-type]
    return TestClient(build_app(settings))


@pytest.fixture
def client() -> Iterator[TestClient]:
    with make_client() as c:
        yield c


def chat(client: TestClient, **fields: object) -> dict[str, object]:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hello there"}], **fields}
    return client.post("/v1/chat/completions", json=body)  # type: ignore[return-value]


def test_chat_shape(client: TestClient) -> None:
    response = chat(client)
    assert response.status_code == 200  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["role"] == "assistant"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]


def test_stream_matches_non_stream_and_reports_usage(client: TestClient) -> None:
    whole = chat(client).json()["choices"][0]["message"]["content"]  # type: ignore[attr-defined]
    lines = chat(client, stream=True, stream_options={"include_usage": True}).text.splitlines()  # type: ignore[attr-defined]
    events = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    import json

    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == whole
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


def test_required_tool_call_is_valid(client: TestClient) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {
                "type": "object",
                "properties": {"q": {"type": "string", "minLength": 3}},
                "required": ["q"],
            },
        },
    }
    body = chat(client, tools=[tool], tool_choice="required").json()  # type: ignore[attr-defined]
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert body["choices"][0]["finish_reason"] == "tool_calls" and call["function"]["arguments"] == '{"q":"xxx"}'


def test_errors_have_openai_shape(client: TestClient) -> None:
    assert chat(client, model="other").status_code == 404  # type: ignore[attr-defined]
    assert chat(client, max_tokens=0).status_code == 400  # type: ignore[attr-defined]
    assert chat(client, temperature=3).status_code == 400  # type: ignore[attr-defined]
    assert chat(client, logprobs=3).status_code == 400  # type: ignore[attr-defined]
    no_room = chat(client, messages=[{"role": "user", "content": "w " * 9000}], max_tokens=1).json()  # type: ignore[attr-defined]
    assert no_room["error"]["code"] == "context_length_exceeded"
    image = chat(client, messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])
    assert image.status_code == 400  # type: ignore[attr-defined]


def test_overload_is_503_and_releases_capacity() -> None:
    engine = FakeEngine(model_id="fake-model", slots=1)
    settings = ServeSettings(engine="fake", max_queue=0)
    with TestClient(build_app(settings, engine=engine)) as c:
        # metrics > body limit > the generation fast path, which holds the server state
        state = c.app.app.app.state  # type: ignore[attr-defined]
        runner_admission = state.chat._generation._admission
        held = runner_admission.ticket()
        refused = chat(c)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"  # type: ignore[attr-defined]
        held.release()
        assert chat(c).status_code == 200  # type: ignore[attr-defined]
        assert runner_admission.in_flight == 0


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "inferstack.yaml"
    config.write_text("serve:\n  port: 9001\n  parallel: 2\n  ctx_size: 1024\n")
    monkeypatch.setenv("INFERSTACK_SERVE_PARALLEL", "3")
    settings = load_settings(ServeSettings, config_file=config, section="serve", overrides={"ctx_size": 512})
    assert (settings.port, settings.parallel, settings.ctx_size) == (9001, 3, 512)
