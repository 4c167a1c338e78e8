"""A non-streamed (JSON) request's upstream attempt span: what `reply_attributes` reads of a reply (finish reasons
in choice order, token counts of either naming, tool calls, the bound on captured output, the Responses API,
embeddings), and the span through `ProxyService` with the in-process fake upstream: it records the answer as the
client got it (masked by post-call guardrails), nothing of an error reply, and no output of a blocked one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inferstack.core.errors import UpstreamError
from inferstack.gateway.guardrails.base import GuardrailBlockedError
from inferstack.gateway.proxy.answer_attributes import MAX_CAPTURED_CHARS, reply_attributes
from inferstack.gateway.settings import GuardrailConfig
from inferstack.gateway.upstreams.fake import FakeAnswer, Handler, UpstreamRequest
from inferstack.observability import tracing
from tests.unit.gateway.proxy_harness import ProxyUnderTest, chat_reply, proxy_under_test
from tests.unit.observability.test_tracing import exporter  # noqa: F401 - the in-memory exporter fixture

OUTPUT = "gen_ai.output.messages"
TRUNCATED = "inferstack.output.truncated"


def _choice(index: int, content: str | None, finish: str, **message: Any) -> dict[str, Any]:
    return {"index": index, "message": {"role": "assistant", "content": content, **message}, "finish_reason": finish}


def _tool_call(name: str, arguments: str, call_id: str = "call_1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_a_chat_reply_gives_id_model_finish_reasons_in_choice_order_and_tokens() -> None:
    reply = {
        "id": "chatcmpl-1",
        "model": "up-a",
        "choices": [_choice(0, "one", "length"), _choice(1, "two", "stop")],
        "usage": {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16},
    }
    attributes = reply_attributes(reply, capture=False)
    assert attributes == {
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.model": "up-a",
        "gen_ai.response.finish_reasons": ["length", "stop"],
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.usage.output_tokens": 9,
    }
    captured = reply_attributes(reply, capture=True)
    assert json.loads(str(captured[OUTPUT])) == [
        {"role": "assistant", "content": "one", "finish_reason": "length"},
        {"role": "assistant", "content": "two", "finish_reason": "stop"},
    ]
    assert TRUNCATED not in captured


def test_tool_calls_are_captured_with_their_message() -> None:
    call = _tool_call("web_search", '{"query": "weather"}')
    reply = {"id": "c", "choices": [_choice(0, None, "tool_calls", tool_calls=[call])]}
    (message,) = json.loads(str(reply_attributes(reply, capture=True)[OUTPUT]))
    assert message == {"role": "assistant", "content": None, "tool_calls": [call], "finish_reason": "tool_calls"}


def test_captured_output_is_bounded_per_choice_text_and_tool_calls_together() -> None:
    long_text = "x" * (MAX_CAPTURED_CHARS + 10)
    attributes = reply_attributes({"choices": [_choice(0, long_text, "length")]}, capture=True)
    (message,) = json.loads(str(attributes[OUTPUT]))
    assert message["content"] == "x" * MAX_CAPTURED_CHARS and attributes[TRUNCATED] is True

    # The text takes most of the budget; the first call's arguments get the rest, the later calls none at all.
    text = "y" * (MAX_CAPTURED_CHARS - 100)
    calls = [_tool_call("f", "a" * 500, f"c{i}") for i in range(MAX_CAPTURED_CHARS)]
    attributes = reply_attributes({"choices": [_choice(0, text, "tool_calls", tool_calls=calls)]}, capture=True)
    (message,) = json.loads(str(attributes[OUTPUT]))
    (kept,) = message["tool_calls"]
    assert message["content"] == text and attributes[TRUNCATED] is True
    used = 1 + len(kept["id"]) + len(kept["type"]) + len(kept["function"]["name"]) + len(kept["function"]["arguments"])
    assert len(text) + used == MAX_CAPTURED_CHARS and kept["function"]["arguments"].startswith("aaa")

    # Many tiny calls: each costs at least one character, so their number is bounded too.
    tiny: list[dict[str, Any]] = [{"function": {}} for _ in range(MAX_CAPTURED_CHARS * 2)]
    attributes = reply_attributes({"choices": [_choice(0, None, "tool_calls", tool_calls=tiny)]}, capture=True)
    (message,) = json.loads(str(attributes[OUTPUT]))
    per_call = 1 + len("function")  # the call itself and its default type
    assert len(message["tool_calls"]) == -(-MAX_CAPTURED_CHARS // per_call) and attributes[TRUNCATED] is True


def test_a_reply_without_usage_records_no_tokens() -> None:
    attributes = reply_attributes({"id": "c", "choices": [_choice(0, "hi", "stop")]}, capture=False)
    assert "gen_ai.usage.input_tokens" not in attributes and "gen_ai.usage.output_tokens" not in attributes
    assert reply_attributes({"usage": {"prompt_tokens": True, "completion_tokens": "3"}}, capture=False) == {}
    assert reply_attributes({"choices": "junk", "usage": []}, capture=True) == {}


def test_completions_responses_and_embeddings_replies() -> None:
    completion = {"id": "cmpl-1", "choices": [{"index": 0, "text": "done", "finish_reason": "stop"}]}
    (message,) = json.loads(str(reply_attributes(completion, capture=True)[OUTPUT]))
    assert message == {"role": "assistant", "content": "done", "finish_reason": "stop"}

    function_call = {"type": "function_call", "call_id": "call_9", "name": "lookup", "arguments": '{"q": 1}'}
    text_item = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi "}] * 2}
    response = {
        "id": "resp_1",
        "model": "up-a",
        "output": [text_item, function_call],
        "usage": {"input_tokens": 4, "output_tokens": 2, "total_tokens": 6},
    }
    attributes = reply_attributes(response, capture=True)
    assert attributes["gen_ai.usage.input_tokens"] == 4 and attributes["gen_ai.usage.output_tokens"] == 2
    assert json.loads(str(attributes[OUTPUT])) == [
        {"role": "assistant", "content": "Hi Hi "},
        {"role": "assistant", "content": None, "tool_calls": [_tool_call("lookup", '{"q": 1}', "call_9")]},
    ]

    embeddings = {"object": "list", "data": [{"embedding": [0.1]}], "model": "e", "usage": {"prompt_tokens": 3}}
    assert reply_attributes(embeddings, capture=True) == {"gen_ai.response.model": "e", "gen_ai.usage.input_tokens": 3}


@asynccontextmanager
async def _traced(tmp_path: Path, handler: Handler, **options: Any) -> AsyncIterator[ProxyUnderTest]:
    async with proxy_under_test(tmp_path, handler, **options) as proxy:
        proxy.service.tracing = proxy.service.completions.attempts.tracing = True
        yield proxy


def _attempt(capture: InMemorySpanExporter) -> ReadableSpan:
    (span,) = [s for s in capture.get_finished_spans() if s.name.startswith("upstream ")]
    return span


async def test_a_traced_json_reply_records_what_the_client_got(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    tracing._State.capture_content = True
    async with _traced(tmp_path, lambda request: chat_reply("hello there", 3, 2)) as proxy:
        reply = await proxy.reply()
    sent = orjson.loads(reply.body)
    span = _attempt(exporter)
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.usage.input_tokens"] == sent["usage"]["prompt_tokens"] == 3
    assert attributes["gen_ai.usage.output_tokens"] == sent["usage"]["completion_tokens"] == 2
    assert attributes["gen_ai.response.id"] == sent["id"] and attributes["gen_ai.response.finish_reasons"] == ("stop",)
    (message,) = json.loads(str(attributes[OUTPUT]))
    assert message["content"] == sent["choices"][0]["message"]["content"] == "hello there"
    assert attributes["http.response.status_code"] == 200 and span.status.is_ok and "error.type" not in attributes


async def test_without_capture_the_answer_is_counted_but_not_recorded(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    async with _traced(tmp_path, lambda request: chat_reply()) as proxy:
        await proxy.reply()
    attributes = dict(_attempt(exporter).attributes or {})
    assert attributes["gen_ai.usage.output_tokens"] == 2 and OUTPUT not in attributes


async def test_an_error_reply_records_nothing_of_an_answer(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    tracing._State.capture_content = True
    refusal = {"error": {"message": "bad", "type": "invalid_request_error"}, "id": "x", "usage": {"prompt_tokens": 1}}
    async with _traced(tmp_path, lambda request: FakeAnswer.json(refusal, status=400)) as proxy:
        reply = await proxy.reply()
    assert reply.status == 400
    attributes = dict(_attempt(exporter).attributes or {})
    assert attributes["http.response.status_code"] == 400
    assert not any(k.startswith(("gen_ai.response.", "gen_ai.usage.", "gen_ai.output.")) for k in attributes)


async def test_a_reply_masked_by_post_call_guardrails_is_recorded_masked(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    tracing._State.capture_content = True
    leak = "mail a@b.example"
    reply_with_call = FakeAnswer.json(
        {"id": "c", "choices": [_choice(0, leak, "stop", tool_calls=[_tool_call("send", '{"to": "a@b.example"}')])]}
    )
    guards = [GuardrailConfig(name="out", entities=("email",), action="mask", mode="post_call", default_on=True)]
    async with _traced(tmp_path, lambda request: reply_with_call, guardrails=guards) as proxy:
        reply = await proxy.reply()
    (sent,) = orjson.loads(reply.body)["choices"]
    (message,) = json.loads(str(dict(_attempt(exporter).attributes or {})[OUTPUT]))
    assert "a@b.example" not in str(message) and sent["message"]["content"] != leak
    assert message["content"] == sent["message"]["content"] and message["tool_calls"] == sent["message"]["tool_calls"]


async def test_a_blocked_reply_keeps_its_tokens_but_not_its_text(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    tracing._State.capture_content = True
    guards = [GuardrailConfig(name="out", entities=("email",), action="block", mode="post_call", default_on=True)]
    async with _traced(tmp_path, lambda request: chat_reply("write to a@b.example"), guardrails=guards) as proxy:
        with pytest.raises(GuardrailBlockedError):
            await proxy.reply()
    span = _attempt(exporter)
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "guardrail_blocked" and not span.status.is_ok
    assert attributes["gen_ai.usage.output_tokens"] == 2 and OUTPUT not in attributes


async def test_a_body_that_is_not_json_ends_the_span_as_an_upstream_error(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    def html(request: UpstreamRequest) -> FakeAnswer:
        return FakeAnswer(body=b"<html>nginx</html>", content_type="text/html")

    async with _traced(tmp_path, html) as proxy:
        with pytest.raises(UpstreamError):
            await proxy.reply()
    span = _attempt(exporter)
    assert dict(span.attributes or {})["error.type"] == "upstream_error" and not span.status.is_ok


async def test_with_tracing_off_no_span_is_made(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    async with proxy_under_test(tmp_path, lambda request: chat_reply()) as proxy:
        assert (await proxy.reply()).status == 200
        assert proxy.service.completions.attempts.tracing is False
    assert exporter.get_finished_spans() == ()


async def test_a_failed_attempt_keeps_its_failure_and_the_retry_records_the_answer(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    answers = iter([FakeAnswer.json({"error": {"message": "overloaded"}}, status=503), chat_reply()])
    async with _traced(tmp_path, lambda request: next(answers), router={"num_retries": 1}) as proxy:
        assert (await proxy.reply()).status == 200
    failed, succeeded = [s for s in exporter.get_finished_spans() if s.name.startswith("upstream ")]
    assert not failed.status.is_ok and "503" in str(failed.status.description)
    assert [e.name for e in failed.events] == ["exception"]
    assert "gen_ai.usage.output_tokens" not in dict(failed.attributes or {})
    assert dict(succeeded.attributes or {})["gen_ai.usage.output_tokens"] == 2 and succeeded.status.is_ok
