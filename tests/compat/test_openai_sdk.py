"""The official `openai` SDK through the gateway (the reference deployment's path) to the real model server:
chat, streaming, tool calls, structured output and embeddings, used the way the SDK's docs show."""

from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel

from tests.compat.conftest import EMBEDDING_MODEL, MASTER_KEY, MODEL
from tests.support.processes import RunningProcess

pytestmark = [pytest.mark.integration, pytest.mark.realmodel]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class Colour(BaseModel):
    name: str


@pytest.fixture(scope="module")
def client(gateway: RunningProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=MASTER_KEY, max_retries=0, timeout=120)


def test_chat(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Name a colour."}], max_tokens=8, temperature=0
    )
    assert reply.choices[0].message.content and reply.usage is not None and reply.usage.completion_tokens <= 8


def test_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= 1


def test_tool_call(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice="required",
        max_tokens=48,
    )
    [call] = reply.choices[0].message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_structured_output_with_parse(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model=MODEL,
        messages=[{"role": "user", "content": "Name a colour as JSON."}],
        response_format=Colour,
        max_tokens=64,
        temperature=0,  # sampled, the small model can ramble in the string until the limit (finish_reason "length")
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Colour) and parsed.name


def test_embeddings_with_the_sdk_defaults(client: openai.OpenAI) -> None:
    # The SDK asks for base64 unless told otherwise and decodes it; both forms must give the same vector.
    default = client.embeddings.create(model=EMBEDDING_MODEL, input=["the sea", "a lighthouse"])
    floats = client.embeddings.create(model=EMBEDDING_MODEL, input="the sea", encoding_format="float")
    assert [len(item.embedding) for item in default.data] == [384, 384]
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_models_list_names_both(client: openai.OpenAI) -> None:
    assert {MODEL, EMBEDDING_MODEL} <= {model.id for model in client.models.list().data}
