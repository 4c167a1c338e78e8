"""The legacy `functions` / `function_call` parameters are answered as tools and written back as
`message.function_call`; a `role: "function"` result is accepted. Driven with the openai SDK's legacy parameters."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from fastapi.testclient import TestClient

from inferstack.serving.app import build_app
from inferstack.serving.settings import ServeSettings

WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ASK = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
def sdk() -> Iterator[openai.OpenAI]:
    with TestClient(build_app(ServeSettings(engine="fake"))) as http:
        yield openai.OpenAI(base_url=str(http.base_url) + "/v1", api_key="unused", http_client=http, max_retries=0)


def test_named_function_call_answers_with_message_function_call(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(
        model="fake-model",
        messages=ASK,
        functions=[WEATHER],
        function_call={"name": "get_weather"},  # type: ignore[arg-type,list-item]
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "function_call" and choice.message.tool_calls is None
    assert choice.message.function_call is not None and choice.message.function_call.name == "get_weather"
    assert json.loads(choice.message.function_call.arguments) == {"city": "x"}


def test_function_result_message_round_trips(sdk: openai.OpenAI) -> None:
    messages = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        },
        {"role": "function", "name": "get_weather", "content": "sunny, 21 C"},
    ]
    answer = sdk.chat.completions.create(
        model="fake-model", messages=messages, functions=[WEATHER], function_call="none"
    )  # type: ignore[arg-type,list-item]
    assert answer.choices[0].finish_reason == "stop" and "sunny" in (answer.choices[0].message.content or "")


def test_streamed_function_call_deltas(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="fake-model",
            messages=ASK,
            functions=[WEATHER],
            function_call={"name": "get_weather"},
            stream=True,  # type: ignore[arg-type,list-item]
        )
    )
    pieces = [c.choices[0].delta.function_call for c in chunks if c.choices and c.choices[0].delta.function_call]
    assert pieces[0].name == "get_weather"
    assert json.loads("".join(p.arguments or "" for p in pieces)) == {"city": "x"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["function_call"]


def test_functions_and_tools_together_are_refused(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(
            model="fake-model",
            messages=ASK,
            functions=[WEATHER],
            tools=[{"type": "function", "function": WEATHER}],  # type: ignore[arg-type,list-item]
        )
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="fake-model", messages=ASK, function_call="auto")  # type: ignore[arg-type]
