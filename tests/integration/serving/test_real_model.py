"""The real `inferstack serve` (SmolLM2-135M + all-MiniLM-L6-v2) driven with the official openai SDK."""

from __future__ import annotations

import base64
import json
import math
import re

import httpx
import jsonschema
import numpy as np
import openai
import pytest

from tests.support.processes import RunningProcess

MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-minilm-l6-v2"


@pytest.fixture(scope="module")
def client(real_server: RunningProcess) -> openai.OpenAI:
    # A safety net, not a performance bound: a tool-call reply under a JSON-schema grammar has taken over 120 s on
    # two cores busy with image builds.
    return openai.OpenAI(base_url=real_server.base_url + "/v1", api_key="unused", max_retries=0, timeout=300)


def metric(base_url: str, name: str, labels: str = "") -> float:
    text = httpx.get(base_url + "/metrics").text
    pattern = re.compile(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$", re.M)
    match = pattern.search(text)
    return float(match.group(1)) if match else 0.0


def test_health_and_models(real_server: RunningProcess, client: openai.OpenAI) -> None:
    health = httpx.get(real_server.base_url + "/health").json()
    assert health["status"] == "ready" and health["engine"] == "llamacpp"
    ids = {m.id for m in client.models.list().data}
    assert ids == {MODEL, EMBEDDING_MODEL}


def test_chat_answers_with_usage(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Name a colour."}],
        max_tokens=12,
        temperature=0,
        seed=7,
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 5
    assert 1 <= reply.usage.completion_tokens <= 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_stream_concatenates_to_non_streamed_text(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Write one sentence about the sea."}]
    whole = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=40, temperature=0, seed=3)
    stream = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        max_tokens=40,
        temperature=0,
        seed=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage is not None and whole.usage is not None
    assert usage.completion_tokens == whole.usage.completion_tokens
    assert usage.prompt_tokens == whole.usage.prompt_tokens


def test_stop_sequence_and_max_completion_tokens(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Count from 1 to 20 separated by commas."}],
        max_completion_tokens=60,
        temperature=0,
        stop=["5"],
    )
    assert "5" not in (reply.choices[0].message.content or "")
    capped = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Tell me a long story."}],
        max_completion_tokens=5,
    )
    assert capped.choices[0].finish_reason == "length" and capped.usage is not None
    assert capped.usage.completion_tokens == 5


def test_text_completion(client: openai.OpenAI) -> None:
    reply = client.completions.create(model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0)
    assert reply.choices[0].text and reply.usage is not None and reply.usage.completion_tokens <= 8
    chunks = list(
        client.completions.create(
            model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0, stream=True
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == reply.choices[0].text


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city", "unit"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_documents",
            "description": "Search the knowledge base",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "minLength": 1},
                    "top_k": {"type": "integer", "minimum": 1, "maximum": 10},
                },
                "required": ["query", "top_k"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "create_event",
            "description": "Put an event in the calendar",
            "parameters": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "attendees": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
                    "all_day": {"type": "boolean"},
                },
                "required": ["title", "all_day"],
            },
        },
    },
    {"type": "function", "function": {"name": "get_time", "description": "The current time"}},
]
SCHEMAS = {t["function"]["name"]: t["function"].get("parameters", {"type": "object"}) for t in TOOLS}
PROMPTS = [
    "What's the weather in Paris?",
    "Is it raining in Tokyo right now, in fahrenheit?",
    "Find documents about GPUs.",
    "Search the knowledge base for vLLM tensor parallelism, 3 results.",
    "Schedule a team lunch on Friday.",
    "Create an all-day event called Offsite with Ana and Bo.",
    "What time is it?",
    "Weather for Lima please",
    "Look up Karpenter node pools",
    "Book a meeting titled Review",
    "How hot is it in Cairo?",
    "Hello!",
    "Tell me about Ray Serve autoscaling",
    "Add 'Dentist' to my calendar",
    "Search: embeddings 384 dimensions",
    "Is it cold in Oslo?",
    "What is 2+2?",
    "Find notes on LiteLLM budgets, top 2",
    "Plan a birthday party event",
    "Temperature in Nairobi in celsius",
]


def _check_calls(message: openai.types.chat.ChatCompletionMessage, allowed: set[str]) -> int:
    for call in message.tool_calls or []:
        assert call.type == "function" and call.id
        assert call.function.name in allowed
        jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])
    return len(message.tool_calls or [])


@pytest.mark.parametrize("prompt", PROMPTS)
def test_tool_calls_always_parse_and_validate(client: openai.OpenAI, prompt: str) -> None:
    messages = [{"role": "user", "content": prompt}]
    required = client.chat.completions.create(
        model=MODEL, messages=messages, tools=TOOLS, tool_choice="required", temperature=0.7
    )
    assert required.choices[0].finish_reason == "tool_calls"
    assert _check_calls(required.choices[0].message, set(SCHEMAS)) >= 1
    auto = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS, tool_choice="auto")
    message = auto.choices[0].message
    if auto.choices[0].finish_reason == "tool_calls":
        assert _check_calls(message, set(SCHEMAS)) >= 1 and message.content is None
    else:  # a plain answer, possibly cut by the token cap like any text answer
        assert auto.choices[0].finish_reason in ("stop", "length")
        assert message.content is not None and not message.tool_calls


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_named_tool_choice_forces_that_function(client: openai.OpenAI, name: str) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Do what you think is best."}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": name}},
    )
    message = reply.choices[0].message
    assert _check_calls(message, {name}) == 1


def test_tool_choice_none_answers_in_text(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Rome?"}],
        tools=TOOLS,
        tool_choice="none",
        max_tokens=20,
    )
    assert not reply.choices[0].message.tool_calls and reply.choices[0].finish_reason in ("stop", "length")


def test_parallel_tool_calls_and_tool_results_round_trip(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Paris and in Rome?"}],
        tools=TOOLS,
        tool_choice="required",
        parallel_tool_calls=True,
    )
    message = reply.choices[0].message
    assert _check_calls(message, set(SCHEMAS)) >= 1
    follow_up = client.chat.completions.create(
        model=MODEL,
        max_tokens=30,
        messages=[
            {"role": "user", "content": "Weather in Paris and in Rome?"},
            message.model_dump(exclude_none=True),
            *({"role": "tool", "tool_call_id": c.id, "content": "22 C, sunny"} for c in message.tool_calls or []),
        ],
    )
    assert follow_up.choices[0].message.content


def test_streamed_tool_call_deltas(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Berlin?"}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    deltas = 0
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                deltas += 1
                entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += delta.id or ""
                if delta.function is not None:
                    entry["name"] += delta.function.name or ""
                    entry["arguments"] += delta.function.arguments or ""
    assert finish == "tool_calls" and list(calls) == [0]
    assert deltas > 2  # arguments arrive in pieces, not in one final chunk
    assert calls[0]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    jsonschema.validate(json.loads(calls[0]["arguments"]), SCHEMAS["get_weather"])


def test_json_schema_response_format_validates(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 40},
            "age": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 3},
        },
        "required": ["name", "age", "tags"],
        "additionalProperties": False,
    }
    for prompt in ("Describe a fictional person.", "Invent a pirate.", "A customer record, please."):
        reply = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": prompt}],
            response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
            temperature=0,
        )
        jsonschema.validate(json.loads(reply.choices[0].message.content or ""), schema)
    # json_object cannot bound key names (the decoder has no propertyNames/maxProperties), so a model that
    # rambles inside keys stops at max_tokens with finish_reason "length", as OpenAI documents; at temperature 0
    # this prompt completes.
    obj = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Give me JSON."}],
        response_format={"type": "json_object"},
        temperature=0,
    )
    assert obj.choices[0].finish_reason == "stop", obj.choices[0].message.content
    assert isinstance(json.loads(obj.choices[0].message.content or ""), dict)
    unenforceable = {"type": "object", "propertyNames": {"maxLength": 3}}
    with pytest.raises(openai.BadRequestError, match="propertyNames"):
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "x"}],
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": unenforceable}},
        )


def test_embeddings_rank_related_sentences_closer(client: openai.OpenAI) -> None:
    texts = [
        "The cat sat on the mat.",
        "A kitten is resting on a rug.",
        "Quarterly revenue grew by ten percent.",
    ]
    result = client.embeddings.create(model=EMBEDDING_MODEL, input=texts)
    vectors = [np.array(d.embedding) for d in result.data]
    assert [d.index for d in result.data] == [0, 1, 2] and len(vectors[0]) == 384
    assert all(math.isclose(float(np.linalg.norm(v)), 1.0, rel_tol=1e-3) for v in vectors)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.2
    assert result.usage.prompt_tokens > 0
    single = client.embeddings.create(model=EMBEDDING_MODEL, input="The cat sat on the mat.")
    assert np.allclose(single.data[0].embedding, vectors[0], atol=1e-5)


def test_embeddings_base64_matches_float(real_server: RunningProcess) -> None:
    body = {"model": EMBEDDING_MODEL, "input": ["hello world"]}
    floats = httpx.post(real_server.base_url + "/v1/embeddings", json=body).json()["data"][0]["embedding"]
    b64 = httpx.post(real_server.base_url + "/v1/embeddings", json={**body, "encoding_format": "base64"}).json()
    decoded = np.frombuffer(base64.b64decode(b64["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, floats, atol=1e-6)


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error  # type: ignore[no-any-return]


def test_error_cases(real_server: RunningProcess) -> None:
    url = real_server.base_url
    chat = url + "/v1/chat/completions"
    ok_messages = [{"role": "user", "content": "hi"}]
    assert _error(httpx.post(chat, content=b"{not json", headers={"content-type": "application/json"}), 400)
    bad = _error(httpx.post(chat, json={"model": MODEL, "messages": ok_messages, "max_tokens": -1}), 400)
    assert bad["param"] == "max_tokens"
    role = _error(httpx.post(chat, json={"model": MODEL, "messages": [{"role": "wizard", "content": "x"}]}), 400)
    assert "role" in str(role["param"])
    bad_tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": 5}},
    }
    _error(httpx.post(chat, json={"model": MODEL, "messages": ok_messages, "tools": [bad_tool]}), 400)
    _error(httpx.post(chat, json={"model": MODEL, "messages": ok_messages, "n": 2}), 400)
    _error(httpx.post(chat, json={"model": MODEL, "messages": []}), 400)
    missing = _error(httpx.post(chat, json={"model": "gpt-17", "messages": ok_messages}), 404)
    assert missing["code"] == "model_not_found"
    _error(httpx.post(url + "/v1/embeddings", json={"model": MODEL, "input": "x"}), 404)
    huge_prompt = [{"role": "user", "content": "word " * 5000}]
    assert _error(httpx.post(chat, json={"model": MODEL, "messages": huge_prompt}), 400)["code"] == (
        "context_length_exceeded"
    )
    long_input = _error(
        httpx.post(url + "/v1/embeddings", json={"model": EMBEDDING_MODEL, "input": "word " * 600}), 400
    )
    assert long_input["code"] == "context_length_exceeded"
    _error(httpx.post(url + "/v1/embeddings", json={"model": EMBEDDING_MODEL, "input": ""}), 400)
    _error(httpx.post(chat, content=b"x" * (9 * 1024 * 1024), headers={"content-type": "application/json"}), 413)
    _error(httpx.get(url + "/v1/nothing-here"), 404)


def test_max_tokens_over_the_room_left_is_capped_and_ends_with_length(client: openai.OpenAI) -> None:
    """The server default `max_tokens_policy: cap` (llama.cpp's behaviour): the reference's max_tokens=4096 on a
    prompt that leaves a few tokens of the 2048-token slot generates those and says `length`."""
    context = 2048
    words = 1990
    for _ in range(3):  # find a prompt that leaves a handful of tokens
        prompt = "word " * words
        probe = client.completions.create(model=MODEL, prompt=prompt, max_tokens=1, temperature=0)
        assert probe.usage is not None
        room = context - probe.usage.prompt_tokens
        if 2 <= room <= 12:
            break
        words += room - 6
    assert 2 <= room <= 12, room
    capped = client.completions.create(model=MODEL, prompt=prompt, max_tokens=4096, temperature=0)
    assert capped.usage is not None and capped.choices[0].finish_reason == "length"
    assert capped.usage.completion_tokens == room


def test_metrics_count_what_was_sent(real_server: RunningProcess, client: openai.OpenAI) -> None:
    url = real_server.base_url
    ok_before = metric(url, "inferstack_requests_total", '{route="/v1/chat/completions",status="200"}')
    bad_before = metric(url, "inferstack_requests_total", '{route="/v1/chat/completions",status="404"}')
    tokens_before = metric(url, "inferstack_completion_tokens_total")
    ttft_before = metric(url, "inferstack_time_to_first_token_seconds_count")
    generated = 0
    for _ in range(3):
        reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=6)
        assert reply.usage is not None
        generated += reply.usage.completion_tokens
    httpx.post(url + "/v1/chat/completions", json={"model": "nope", "messages": [{"role": "user", "content": "x"}]})
    assert metric(url, "inferstack_requests_total", '{route="/v1/chat/completions",status="200"}') == ok_before + 3
    assert metric(url, "inferstack_requests_total", '{route="/v1/chat/completions",status="404"}') == bad_before + 1
    assert metric(url, "inferstack_completion_tokens_total") == tokens_before + generated
    assert metric(url, "inferstack_time_to_first_token_seconds_count") == ttft_before + 3
    assert metric(url, "inferstack_slots_total") == 4
    assert "inferstack_inter_token_latency_seconds_bucket" in httpx.get(url + "/metrics").text
