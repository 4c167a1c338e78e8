"""Chat `logprobs` / `top_logprobs` on an engine that reports them (llama.cpp, the fake), refused on one that does
not, and `n` > 1 refused everywhere; driven with the openai SDK."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from fastapi.testclient import TestClient

from inferstack.serving.app import build_app
from inferstack.serving.engines.base import EngineInfo
from inferstack.serving.engines.fake import FakeEngine
from inferstack.serving.settings import ServeSettings

ASK = [{"role": "user", "content": "hello there"}]


def sdk_for(engine: FakeEngine | None = None) -> Iterator[openai.OpenAI]:
    with TestClient(build_app(ServeSettings(engine="fake"), engine=engine)) as http:
        yield openai.OpenAI(base_url=str(http.base_url) + "/v1", api_key="unused", http_client=http, max_retries=0)


@pytest.fixture
def sdk() -> Iterator[openai.OpenAI]:
    yield from sdk_for()


def test_logprobs_cover_every_token_with_top_alternatives(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(model="fake-model", messages=ASK, logprobs=True, top_logprobs=2)  # type: ignore[arg-type]
    choice = answer.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    assert "".join(entry.token for entry in choice.logprobs.content) == choice.message.content
    assert all(len(entry.top_logprobs) == 2 for entry in choice.logprobs.content)
    plain = sdk.chat.completions.create(model="fake-model", messages=ASK)  # type: ignore[arg-type]
    assert plain.choices[0].logprobs is None


def test_streamed_logprobs(sdk: openai.OpenAI) -> None:
    chunks = list(sdk.chat.completions.create(model="fake-model", messages=ASK, logprobs=True, stream=True))  # type: ignore[arg-type]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    tokens = [
        e.token for c in chunks if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content or []
    ]
    assert "".join(tokens) == text and text


def test_refusals(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="top_logprobs needs logprobs"):
        sdk.chat.completions.create(model="fake-model", messages=ASK, top_logprobs=2)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="fake-model", messages=ASK, logprobs=True, top_logprobs=21)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="n=1"):
        sdk.chat.completions.create(model="fake-model", messages=ASK, n=2)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="chat/completions only"):
        sdk.completions.create(model="fake-model", prompt="hi", logprobs=2)


class FakeEngineWithoutLogprobs(FakeEngine):
    @property
    def info(self) -> EngineInfo:
        info = super().info
        return EngineInfo(
            kind="nologprobs", model_id=info.model_id, context_length=info.context_length, slots=info.slots
        )


def test_an_engine_without_logprobs_refuses_them() -> None:
    for sdk in sdk_for(FakeEngineWithoutLogprobs()):
        with pytest.raises(openai.BadRequestError, match="does not report logprobs"):
            sdk.chat.completions.create(model="fake-model", messages=ASK, logprobs=True)  # type: ignore[arg-type]
