"""A real gateway in front of a fake upstream process, writing the local trace store: a non-streamed completion's
upstream attempt span records the answer the client got through the official SDK (its id, model, finish reason,
token counts and, with content capture, its text and tool calls), and a reply that a post-call PII guardrail masked
is recorded exactly as masked for the client."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from inferstack.observability.trace_store import StoredSpan
from tests.integration.gateway.test_stream_spans import _by_kind, _session_spans, _traced_env
from tests.support.gateway import MASTER_KEY, RunningProcess, control, deployment, fake_upstream, gateway_process

pytestmark = pytest.mark.integration

EMAIL = "ada@example.com"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    with fake_upstream(tmp_path_factory.mktemp("json-spans-upstream"), "j") as proc:
        yield proc


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, upstream: RunningProcess) -> Iterator[tuple[openai.OpenAI, Path]]:
    tmp = tmp_path_factory.mktemp("json-spans")
    config = {
        "model_list": [
            deployment("fake-model", upstream, model="fake-model"),
            deployment("echo", upstream),
            deployment("echo-masked", upstream, guardrails=["pii-out"]),
        ],
        "guardrails": [{"name": "pii-out", "mode": "post_call", "action": "mask", "entities": ["email"]}],
    }
    with gateway_process(tmp, config, extra_env=_traced_env(tmp / "traces.db")) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=MASTER_KEY, max_retries=0)
        yield client, tmp / "traces.db"


def _attempt(client: openai.OpenAI, store: Path, model: str, text: str, **extra: Any) -> tuple[Any, StoredSpan]:
    """A non-streamed chat completion in its own session, and its upstream attempt span from the store."""
    session = f"json-{uuid.uuid4().hex[:8]}"
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": text}],
        extra_body={"metadata": {"session_id": session}},
        **extra,
    )
    server, attempt = _by_kind(_session_spans(store, session))
    assert server.start_ns <= attempt.start_ns and attempt.end_ns <= server.end_ns
    assert attempt.attributes["http.response.status_code"] == 200 and "error.type" not in attempt.attributes
    return reply, attempt


def test_a_json_reply_span_records_the_answer_the_client_got(traced: tuple[openai.OpenAI, Path]) -> None:
    client, store = traced
    reply, attempt = _attempt(client, store, "fake-model", "count", max_tokens=6)
    a = attempt.attributes
    assert reply.usage is not None and reply.choices[0].message.content is not None
    assert a["gen_ai.usage.input_tokens"] == reply.usage.prompt_tokens == 5
    assert a["gen_ai.usage.output_tokens"] == reply.usage.completion_tokens == 6
    assert a["gen_ai.response.finish_reasons"] == [reply.choices[0].finish_reason] == ["length"]
    assert a["gen_ai.response.id"] == reply.id and a["gen_ai.response.model"] == reply.model
    (message,) = json.loads(a["gen_ai.output.messages"])
    assert message == {"role": "assistant", "content": reply.choices[0].message.content, "finish_reason": "length"}
    assert message["content"].split() == [f"word{i}" for i in range(6)]


def test_a_tool_call_is_recorded_as_the_client_got_it(
    traced: tuple[openai.OpenAI, Path], upstream: RunningProcess
) -> None:
    client, store = traced
    control(upstream, script=[{"name": "web_search", "arguments": {"query": "weather in Lyon"}}])
    reply, attempt = _attempt(client, store, "echo", "what is the weather?")
    (call,) = reply.choices[0].message.tool_calls or []
    (message,) = json.loads(attempt.attributes["gen_ai.output.messages"])
    assert message["content"] is None and message["finish_reason"] == reply.choices[0].finish_reason == "tool_calls"
    assert message["tool_calls"] == [call.model_dump()]
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"query": "weather in Lyon"}


def test_a_reply_masked_by_a_post_call_guardrail_is_recorded_masked(traced: tuple[openai.OpenAI, Path]) -> None:
    client, store = traced
    reply, attempt = _attempt(client, store, "echo-masked", f"write to {EMAIL} today")
    content = reply.choices[0].message.content
    assert content is not None and EMAIL not in content and content.endswith("today")  # the upstream echoed it
    (message,) = json.loads(attempt.attributes["gen_ai.output.messages"])
    assert message["content"] == content and EMAIL not in attempt.attributes["gen_ai.output.messages"]
    assert reply.usage is not None and attempt.attributes["gen_ai.usage.output_tokens"] == reply.usage.completion_tokens


@pytest.mark.realmodel
def test_the_real_model_servers_json_answers_are_recorded(tmp_path: Path, real_server: RunningProcess) -> None:
    """SmolLM2 and MiniLM behind the gateway: the span holds what the real server answered, as the SDK read it."""
    config = {
        "model_list": [
            deployment("smol", real_server, model="smollm2-135m-instruct"),
            deployment("minilm", real_server, model="all-minilm-l6-v2"),
        ]
    }
    store = tmp_path / "traces.db"
    with gateway_process(tmp_path, config, extra_env=_traced_env(store)) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=MASTER_KEY, max_retries=0, timeout=300)
        reply, attempt = _attempt(client, store, "smol", "Name one colour.", max_tokens=8, temperature=0)
        session = f"emb-{uuid.uuid4().hex[:8]}"
        vectors = client.embeddings.create(
            model="minilm", input=["a short sentence"], extra_body={"metadata": {"session_id": session}}
        )
        _, embedded = _by_kind(_session_spans(store, session))
    a = attempt.attributes
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert a["gen_ai.usage.input_tokens"] == reply.usage.prompt_tokens
    assert a["gen_ai.usage.output_tokens"] == reply.usage.completion_tokens
    assert a["gen_ai.response.finish_reasons"] == [reply.choices[0].finish_reason]
    assert a["gen_ai.response.id"] == reply.id and a["gen_ai.response.model"] == reply.model
    (message,) = json.loads(a["gen_ai.output.messages"])
    assert message["content"] == reply.choices[0].message.content
    assert embedded.attributes["gen_ai.usage.input_tokens"] == vectors.usage.prompt_tokens
    assert "gen_ai.output.messages" not in embedded.attributes  # vectors are not content
