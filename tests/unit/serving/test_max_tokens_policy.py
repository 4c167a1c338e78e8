"""`serve.max_tokens_policy`: a max_tokens over the room the prompt leaves is capped (default) or refused;
a prompt that leaves no room is refused under both."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from inferstack.serving.app import build_app
from inferstack.serving.settings import ServeSettings

LONG_PROMPT = " ".join(f"w{i}" for i in range(52))


def post(policy: str, path: str, **fields: object) -> tuple[int, dict[str, object]]:
    settings = ServeSettings(engine="fake", ctx_size=64, max_tokens_policy=policy)  # type: ignore[arg-type]
    with TestClient(build_app(settings)) as client:
        if path == "/v1/chat/completions":
            body = {"model": "fake-model", "messages": [{"role": "user", "content": LONG_PROMPT}], **fields}
        else:
            body = {"model": "fake-model", "prompt": LONG_PROMPT + " x y z", **fields}
        response = client.post(path, json=body)
        return response.status_code, response.json()


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_cap_generates_up_to_the_room_left_and_says_length(path: str) -> None:
    status, body = post("cap", path, max_tokens=4096)
    assert status == 200, body
    usage = body["usage"]
    assert isinstance(usage, dict) and usage["prompt_tokens"] + usage["completion_tokens"] == 64
    assert body["choices"][0]["finish_reason"] == "length"  # type: ignore[index]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_reject_refuses_an_over_large_max_tokens(path: str) -> None:
    status, body = post("reject", path, max_tokens=4096)
    assert status == 400 and body["error"]["code"] == "context_length_exceeded"  # type: ignore[index]
    assert post("reject", path, max_tokens=2)[0] == 200


@pytest.mark.parametrize("policy", ["cap", "reject"])
def test_a_prompt_that_does_not_fit_is_refused_under_both(policy: str) -> None:
    status, body = post(policy, "/v1/completions", prompt=" ".join(["w"] * 80), max_tokens=1)
    assert status == 400 and body["error"]["code"] == "context_length_exceeded"  # type: ignore[index]


def test_default_is_cap_with_the_models_trained_context() -> None:
    settings = ServeSettings()
    assert (settings.max_tokens_policy, settings.ctx_size) == ("cap", 8192)
