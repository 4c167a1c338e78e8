"""A streamed request's upstream attempt span, through `ProxyService` with the in-process fake upstream: it stays
open until the stream ends, records what the stream said, and is ended exactly once on every way out (relayed to
the end, broken upstream, client gone mid-stream, closed before the first event). Session ids from the body."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inferstack.core.errors import InvalidRequestError
from inferstack.gateway.proxy import ProxyStream
from inferstack.gateway.proxy.stream_span import MAX_CAPTURED_CHARS
from inferstack.gateway.settings import GuardrailConfig
from inferstack.gateway.upstreams.fake import FakeAnswer, UpstreamRequest
from inferstack.observability import tracing
from tests.unit.gateway.proxy_harness import ProxyUnderTest, chat_body, proxy_under_test
from tests.unit.observability.test_tracing import exporter  # noqa: F401 - the in-memory exporter fixture

WORDS = ("Hel", "lo", " there")


def _stream(**options: Any) -> FakeAnswer:
    """Role chunk, content deltas, a finish chunk, then usage: the shape OpenAI-compatible servers send."""
    chunks: list[dict[str, Any]] = [
        {"id": "chatcmpl-7", "model": "up-a", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    ]
    chunks += [{"id": "chatcmpl-7", "choices": [{"index": 0, "delta": {"content": w}}]} for w in WORDS]
    chunks.append({"id": "chatcmpl-7", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({"id": "chatcmpl-7", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 3}})
    return FakeAnswer.stream(chunks, **options)


@asynccontextmanager
async def _traced(tmp_path: Path, answer: FakeAnswer, **options: Any) -> AsyncIterator[ProxyUnderTest]:
    seen: list[UpstreamRequest] = []

    def handler(request: UpstreamRequest) -> FakeAnswer:
        seen.append(request)
        return answer

    async with proxy_under_test(tmp_path, handler, **options) as proxy:
        proxy.service.tracing = proxy.service.streams.attempts.tracing = True
        proxy.upstream.seen = seen  # type: ignore[attr-defined]
        yield proxy


def _attempts(capture: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in capture.get_finished_spans() if s.name.startswith("upstream ")]


async def _open(proxy: ProxyUnderTest, **extra: Any) -> ProxyStream:
    result = await proxy.service.handle("chat", chat_body("hi", stream=True, **extra), "Bearer sk-test-master")
    assert isinstance(result, ProxyStream)
    return result


async def _relayed_output(
    tmp_path: Path, capture: InMemorySpanExporter, chunks: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Relay `chunks` to their end; the attempt span's attributes and its one captured output message."""
    async with _traced(tmp_path, FakeAnswer.stream(chunks)) as proxy:
        stream = await _open(proxy)
        async for _ in stream.events:
            pass
    attributes = dict(_attempts(capture)[0].attributes or {})
    (message,) = json.loads(str(attributes["gen_ai.output.messages"]))
    return attributes, message


async def test_the_span_ends_with_the_stream_and_records_what_it_said(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    tracing._State.capture_content = True
    async with _traced(tmp_path, _stream()) as proxy:
        stream = await _open(proxy, metadata={"session_id": "conv-9", "user_tag": "x"})
        first = await anext(stream.events)
        assert b"assistant" in first
        assert _attempts(exporter) == []  # open while the stream is being relayed
        rest = [block async for block in stream.events]
        await stream.aclose()
        sent = orjson.loads(proxy.upstream.seen[0].body)  # type: ignore[attr-defined]
    (span,) = _attempts(exporter)
    attributes = dict(span.attributes or {})
    assert b"[DONE]" in rest[-1]
    assert attributes["gen_ai.usage.input_tokens"] == 4 and attributes["gen_ai.usage.output_tokens"] == 3
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.response.id"] == "chatcmpl-7" and attributes["gen_ai.response.model"] == "up-a"
    assert float(str(attributes["inferstack.time_to_first_token_ms"])) > 0
    assert [e.name for e in span.events] == ["first_token"]
    output = json.loads(str(attributes["gen_ai.output.messages"]))
    assert output == [{"role": "assistant", "content": "Hello there", "finish_reason": "stop"}]
    assert attributes["session.id"] == attributes["langfuse.session.id"] == "conv-9"
    assert "error.type" not in attributes and span.status.is_ok
    assert "metadata" not in sent  # the gateway's metadata never goes upstream
    assert proxy.metric("inferstack_gateway_requests_in_flight") == 0


async def test_captured_text_is_bounded(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    tracing._State.capture_content = True
    piece = "x" * 1000
    chunks = [{"choices": [{"index": 0, "delta": {"content": piece}}]} for _ in range(MAX_CAPTURED_CHARS // 1000 + 5)]
    attributes, message = await _relayed_output(tmp_path, exporter, chunks)
    assert len(message["content"]) == MAX_CAPTURED_CHARS and attributes["inferstack.output.truncated"] is True


async def test_an_upstream_that_breaks_mid_stream_ends_the_span_as_an_error(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    async with _traced(tmp_path, _stream(break_after=2)) as proxy:
        stream = await _open(proxy)
        blocks = [block async for block in stream.events]
        await stream.aclose()
        rows = await proxy.usage_rows()
    assert b"broke" in blocks[-1]
    (span,) = _attempts(exporter)
    assert span.attributes is not None and span.attributes["error.type"] == "stream"
    assert not span.status.is_ok and "inferstack.time_to_first_token_ms" in span.attributes
    assert [r.status for r in rows] == [502]


async def test_a_client_that_leaves_mid_stream_ends_the_span_as_cancelled(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    async with _traced(tmp_path, _stream(chunk_delay_s=0.01)) as proxy:
        stream = await _open(proxy)
        await anext(stream.events)
        await stream.aclose()
        await stream.aclose()  # a second close changes nothing
        rows = await proxy.usage_rows()
        assert proxy.upstream.open_streams == 0
    (span,) = _attempts(exporter)
    assert span.attributes is not None and span.attributes["error.type"] == "cancelled"
    assert [e.name for e in span.events] == ["cancelled"]
    assert [r.status for r in rows] == [499]
    assert proxy.metric("inferstack_gateway_requests_in_flight") == 0


async def test_a_stream_closed_before_its_first_event_still_lets_everything_go(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    async with _traced(tmp_path, _stream()) as proxy:
        stream = await _open(proxy)
        await stream.aclose()  # the generator never ran: only the close hooks can let go
        rows = await proxy.usage_rows()
        assert proxy.upstream.open_streams == 0
        assert sum(d.in_flight for d in proxy.router.all_deployments()) == 0
    (span,) = _attempts(exporter)
    assert span.attributes is not None and span.attributes["error.type"] == "cancelled"
    assert [r.status for r in rows] == [499]
    assert proxy.metric("inferstack_gateway_requests_in_flight") == 0


async def test_the_session_header_is_recorded_on_the_request_span_and_the_attempt(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    async with _traced(tmp_path, _stream()) as proxy:
        with trace.get_tracer("test").start_as_current_span("POST /v1/chat/completions"):
            stream = await proxy.service.handle(
                "chat", chat_body("hi", stream=True), "Bearer sk-test-master", session_id="from-header"
            )
            assert isinstance(stream, ProxyStream)
            async for _ in stream.events:
                pass
        with pytest.raises(InvalidRequestError) as refused:
            await proxy.service.handle("chat", chat_body("hi", metadata={"session_id": 7}), "Bearer sk-test-master")
        assert refused.value.param == "metadata.session_id"
    by_name = {s.name: dict(s.attributes or {}) for s in exporter.get_finished_spans()}
    assert by_name["POST /v1/chat/completions"]["session.id"] == "from-header"
    assert by_name["upstream a"]["session.id"] == "from-header"


async def test_a_reply_checked_by_post_call_guardrails_is_recorded_as_they_let_it_out(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    tracing._State.capture_content = True
    leaky = FakeAnswer.stream([{"choices": [{"index": 0, "delta": {"content": w}}]} for w in ("mail ", "a@b.example")])
    guards = [GuardrailConfig(name="out", entities=("email",), action="mask", mode="post_call", default_on=True)]
    async with _traced(tmp_path, leaky, guardrails=guards) as proxy:
        stream = await _open(proxy)
        sent = b"".join([block async for block in stream.events])
    (span,) = _attempts(exporter)
    (message,) = json.loads(str(dict(span.attributes or {})["gen_ai.output.messages"]))
    assert b"a@b.example" not in sent and "a@b.example" not in message["content"]
    assert message["content"].startswith("mail ") and message["content"] in sent.decode()


async def test_streamed_tool_calls_are_captured_whole_and_bounded(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    tracing._State.capture_content = True
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "web_search", "arguments": ""}}
    second = {"index": 1, "id": "call_2", "type": "function", "function": {"name": "big", "arguments": ""}}
    pieces = ['{"query":', ' "wea', 'ther"}']
    chunks: list[dict[str, Any]] = [
        {"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [first]}}]}
    ]
    chunks += [
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": p}}]}}]}
        for p in pieces
    ]
    chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [second]}}]})
    huge = {"index": 1, "function": {"arguments": "x" * 1000}}
    chunks += [{"choices": [{"index": 0, "delta": {"tool_calls": [huge]}}]}] * (MAX_CAPTURED_CHARS // 1000 + 2)
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    attributes, message = await _relayed_output(tmp_path, exporter, chunks)
    searched, cut = message["tool_calls"]
    assert message["content"] is None and message["finish_reason"] == "tool_calls"
    function = {"name": "web_search", "arguments": '{"query": "weather"}'}
    assert searched == {"id": "call_1", "type": "function", "function": function}
    assert cut["id"] == "call_2" and cut["function"]["name"] == "big" and set(cut["function"]["arguments"]) == {"x"}
    assert len(str(attributes["gen_ai.output.messages"])) < MAX_CAPTURED_CHARS + 500
    assert attributes["inferstack.output.truncated"] is True


async def test_a_responses_api_stream_is_identified_and_its_text_captured(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    tracing._State.capture_content = True
    created = {"type": "response.created", "response": {"id": "resp_7", "model": "up-a", "status": "in_progress"}}
    deltas = [{"type": "response.output_text.delta", "delta": d} for d in ("Hi", " there")]
    usage = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    completed = {"type": "response.completed", "response": {"id": "resp_7", "status": "completed", "usage": usage}}
    async with _traced(tmp_path, FakeAnswer.stream([created, *deltas, completed])) as proxy:
        body = orjson.dumps({"model": "m", "input": "hi", "stream": True})
        stream = await proxy.service.handle("responses", body, "Bearer sk-test-master")
        assert isinstance(stream, ProxyStream)
        async for _ in stream.events:
            pass
    attributes = dict(_attempts(exporter)[0].attributes or {})
    assert attributes["gen_ai.response.id"] == "resp_7" and attributes["gen_ai.response.model"] == "up-a"
    assert attributes["gen_ai.usage.input_tokens"] == 3 and attributes["gen_ai.usage.output_tokens"] == 2
    assert json.loads(str(attributes["gen_ai.output.messages"])) == [{"role": "assistant", "content": "Hi there"}]
