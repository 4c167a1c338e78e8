"""The official openai SDK against the real model server, for the routes and parameters issue 13 found missing:
the Responses API (`client.responses.create`, streamed and not, with function tools), `models.retrieve`, and the
legacy `functions` / `function_call` parameters."""

from __future__ import annotations

import json

import openai
import pytest

from tests.compat.conftest import EMBEDDING_MODEL, MODEL
from tests.support.processes import RunningProcess

pytestmark = [pytest.mark.integration, pytest.mark.realmodel]

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def client(real_server: RunningProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=real_server.base_url + "/v1", api_key="unused", max_retries=0)


def test_models_retrieve(client: openai.OpenAI) -> None:
    assert client.models.retrieve(MODEL).id == MODEL
    assert client.models.retrieve(EMBEDDING_MODEL).id == EMBEDDING_MODEL
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-17")


def test_responses_create(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=MODEL, instructions="Answer in one word.", input="Name a colour.", max_output_tokens=16, temperature=0
    )
    assert response.object == "response" and response.output_text.strip()
    assert response.usage is not None and 0 < response.usage.output_tokens <= 16


def test_responses_stream(client: openai.OpenAI) -> None:
    kwargs = {"model": MODEL, "input": [{"role": "user", "content": "Say hello."}], "max_output_tokens": 12}
    whole = client.responses.create(temperature=0, **kwargs).output_text  # type: ignore[call-overload]
    events = list(client.responses.create(temperature=0, stream=True, **kwargs))  # type: ignore[call-overload]
    assert events[0].type == "response.created" and events[-1].type in ("response.completed", "response.incomplete")
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == whole


def test_responses_function_tool(client: openai.OpenAI) -> None:
    tool = {"type": "function", **WEATHER}
    response = client.responses.create(
        model=MODEL,
        input="What is the weather in Paris?",
        tools=[tool],
        tool_choice="required",
        temperature=0,  # type: ignore[list-item]
    )
    [call] = [item for item in response.output if item.type == "function_call"]
    assert call.name == "get_weather" and isinstance(json.loads(call.arguments)["city"], str)
    events = list(
        client.responses.create(
            model=MODEL,
            input="Weather in Rome?",
            tools=[tool],
            tool_choice="required",
            stream=True,  # type: ignore[list-item]
        )
    )
    assert [e.type for e in events if e.type == "response.function_call_arguments.done"] == [
        "response.function_call_arguments.done"
    ]


def test_legacy_functions_and_function_result(client: openai.OpenAI) -> None:
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    answer = client.chat.completions.create(
        model=MODEL,
        messages=ask,
        functions=[WEATHER],
        function_call={"name": "get_weather"},
        temperature=0,  # type: ignore[arg-type,list-item]
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "function_call" and choice.message.function_call is not None
    assert choice.message.function_call.name == "get_weather"
    arguments = json.loads(choice.message.function_call.arguments)
    assert isinstance(arguments["city"], str)
    follow_up = [
        *ask,
        {"role": "assistant", "content": None, "function_call": choice.message.function_call.model_dump()},
        {"role": "function", "name": "get_weather", "content": "sunny, 21 C"},
    ]
    final = client.chat.completions.create(
        model=MODEL,
        messages=follow_up,
        functions=[WEATHER],
        function_call="none",
        max_tokens=24,  # type: ignore[arg-type,list-item]
    )
    assert final.choices[0].finish_reason in ("stop", "length") and final.choices[0].message.content


def test_chat_logprobs_on_llama_cpp(client: openai.OpenAI) -> None:
    ask = [{"role": "user", "content": "Name a colour."}]
    answer = client.chat.completions.create(
        model=MODEL,
        messages=ask,
        logprobs=True,
        top_logprobs=3,
        max_tokens=8,
        temperature=0,  # type: ignore[arg-type]
    )
    choice = answer.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content
    assert "".join(entry.token for entry in choice.logprobs.content) == choice.message.content
    for entry in choice.logprobs.content:
        alternatives = [alt.logprob for alt in entry.top_logprobs]
        assert entry.logprob <= 0 and len(alternatives) == 3 and alternatives == sorted(alternatives, reverse=True)
    streamed = client.chat.completions.create(
        model=MODEL,
        messages=ask,
        logprobs=True,
        max_tokens=8,
        temperature=0,
        stream=True,  # type: ignore[arg-type]
    )
    tokens = [
        e.token for c in streamed if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content or []
    ]
    assert "".join(tokens) == choice.message.content
