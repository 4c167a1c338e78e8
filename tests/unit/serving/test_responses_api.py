"""`POST /v1/responses` and `GET /v1/models/{id}` over the fake engine, driven with the official openai SDK."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from fastapi.testclient import TestClient

from inferstack.serving.app import build_app
from inferstack.serving.settings import ServeSettings

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def sdk() -> Iterator[openai.OpenAI]:
    with TestClient(build_app(ServeSettings(engine="fake"))) as http:
        yield openai.OpenAI(base_url=str(http.base_url) + "/v1", api_key="unused", http_client=http, max_retries=0)


def test_text_response_with_instructions(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(model="fake-model", instructions="Be brief.", input="Say hello")
    assert response.status == "completed" and response.output_text.startswith("Fake reply about")
    assert response.usage is not None and response.usage.total_tokens > response.usage.input_tokens > 0


def test_message_items_and_max_output_tokens(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(
        model="fake-model",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "hello"}]}],
        max_output_tokens=2,
    )
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_function_tool_call_and_its_output(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(
        model="fake-model", input="Weather in Paris?", tools=[WEATHER], tool_choice="required"
    )  # type: ignore[list-item]
    [call] = [item for item in response.output if item.type == "function_call"]
    assert call.name == "get_weather" and call.arguments == '{"city":"x"}'
    follow_up = sdk.responses.create(
        model="fake-model",
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert follow_up.status == "completed"


def test_stream_events_concatenate_to_the_text(sdk: openai.OpenAI) -> None:
    whole = sdk.responses.create(model="fake-model", input="Say hello").output_text
    events = list(sdk.responses.create(model="fake-model", input="Say hello", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == whole
    assert [e.sequence_number for e in events] == list(range(len(events)))
    with sdk.responses.stream(model="fake-model", input="Say hello") as stream:
        assert stream.get_final_response().output_text == whole


def test_streamed_function_call(sdk: openai.OpenAI) -> None:
    events = list(
        sdk.responses.create(model="fake-model", input="Weather?", tools=[WEATHER], tool_choice="required", stream=True)  # type: ignore[list-item]
    )
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [e.arguments for e in done] == ['{"city":"x"}']
    final = events[-1]
    assert final.type == "response.completed" and final.response.output[0].type == "function_call"


def test_refusals_are_openai_errors(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(model="fake-model", input="hi", previous_response_id="resp_1")
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(model="fake-model", input=[{"type": "input_image", "image_url": "x"}])  # type: ignore[list-item]
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(model="other", input="hi")


def test_retrieve_model(sdk: openai.OpenAI) -> None:
    assert sdk.models.retrieve("fake-model").id == "fake-model"
    assert sdk.models.retrieve("fake-embedding").id == "fake-embedding"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("gpt-17")
