"""Post-call and pre-call guardrails over every text of every reply shape, through the proxy with `FakeUpstream`:
streamed tool-call arguments, several choices in one stream, and the Responses API (JSON, streamed, list input)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inferstack.gateway.guardrails.base import GuardrailBlockedError
from inferstack.gateway.proxy import ProxyReply, ProxyStream
from inferstack.gateway.settings import GuardrailConfig
from inferstack.gateway.upstreams.fake import FakeAnswer, Handler, UpstreamRequest
from inferstack.observability import tracing
from tests.unit.gateway.proxy_harness import MASTER, ProxyUnderTest, deployment, proxy_under_test
from tests.unit.observability.test_tracing import exporter  # noqa: F401 - the in-memory exporter fixture

EMAIL, CARD = "x.y@corp.example.com", "4111-1111-1111-1111"
GUARDS = [
    GuardrailConfig(name="mask", entities=("email",), action="mask", mode="post_call"),
    GuardrailConfig(name="block", entities=("credit_card",), action="block", mode="post_call"),
    GuardrailConfig(name="mask-in", entities=("email",), action="mask", mode="pre_call"),
]
MODELS: dict[str, tuple[str, ...]] = {"masked": ("mask",), "blocked": ("block",), "masked-in": ("mask-in",)}
DEPLOYMENTS = [deployment(name, model=name) for name in MODELS]


def _guarded(tmp_path: Path, handler: Handler) -> AbstractAsyncContextManager[ProxyUnderTest]:
    return proxy_under_test(tmp_path, handler, deployments=DEPLOYMENTS, guardrails=GUARDS, model_guardrails=MODELS)


def _events(blocks: list[bytes]) -> list[dict[str, Any]]:
    events = [e for block in blocks for e in block.split(b"\n\n") if e.strip()]
    data = [line[5:].strip() for e in events for line in e.split(b"\n") if line.startswith(b"data:")]
    return [orjson.loads(d) for d in data if d != b"[DONE]"]


async def _raw_stream(answer: FakeAnswer, route: str, body: dict[str, Any], tmp_path: Path) -> bytes:
    """What the client of a streamed request gets, as bytes."""
    async with _guarded(tmp_path, lambda request: answer) as proxy:
        result = await proxy.service.handle(route, orjson.dumps({**body, "stream": True}), MASTER)
        assert isinstance(result, ProxyStream)
        return b"".join([block async for block in result.events])


async def _stream(answer: FakeAnswer, route: str, body: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    return _events([await _raw_stream(answer, route, body, tmp_path)])


def _tool_call_stream(pieces: list[str]) -> FakeAnswer:
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "send", "arguments": ""}}
    chunks: list[dict[str, Any]] = [{"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [first]}}]}]
    for piece in pieces:
        call = {"index": 0, "function": {"arguments": piece}}
        chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    return FakeAnswer.stream(chunks)


def _arguments(events: list[dict[str, Any]]) -> str:
    return "".join(
        call["function"].get("arguments", "")
        for event in events
        for choice in event.get("choices", ())
        for call in choice.get("delta", {}).get("tool_calls", ())
    )


CHAT = {"messages": [{"role": "user", "content": "hi"}]}


async def test_streamed_tool_call_arguments_are_masked_and_still_valid_json(tmp_path: Path) -> None:
    answer = _tool_call_stream(['{"to": "x.y@', "corp.example", '.com", "n": 1}'])
    events = await _stream(answer, "chat", {"model": "masked", **CHAT}, tmp_path)
    arguments = orjson.loads(_arguments(events))
    assert EMAIL not in _arguments(events) and arguments["n"] == 1 and arguments["to"] != EMAIL


async def test_the_attempt_span_captures_the_masked_tool_call_arguments(
    tmp_path: Path,
    exporter: InMemorySpanExporter,  # noqa: F811
) -> None:
    tracing._State.capture_content = True
    answer = _tool_call_stream(['{"to": "x.y@', "corp.example", '.com", "n": 1}'])
    async with _guarded(tmp_path, lambda request: answer) as proxy:
        proxy.service.tracing = proxy.service.streams.attempts.tracing = True
        body = {"model": "masked", "stream": True, **CHAT}
        result = await proxy.service.handle("chat", orjson.dumps(body), MASTER)
        assert isinstance(result, ProxyStream)
        sent = _arguments(_events([block async for block in result.events]))
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("upstream ")]
    (message,) = orjson.loads(str(dict(span.attributes or {})["gen_ai.output.messages"]))
    assert EMAIL not in sent and message["tool_calls"][0]["function"]["arguments"] == sent


async def test_streamed_tool_call_arguments_with_a_card_number_are_blocked(tmp_path: Path) -> None:
    answer = _tool_call_stream(['{"card": "4111-1111-', '1111-1111"}'])
    with pytest.raises(GuardrailBlockedError):
        await _stream(answer, "chat", {"model": "blocked", **CHAT}, tmp_path)


async def test_each_choice_of_a_stream_is_masked_on_its_own(tmp_path: Path) -> None:
    words = [(0, "plain "), (1, "mail x.y@corp"), (0, "text"), (1, ".example.com now")]
    chunks = [{"choices": [{"index": i, "delta": {"content": w}}]} for i, w in words]
    events = await _stream(FakeAnswer.stream(chunks), "chat", {"model": "masked", "n": 2, **CHAT}, tmp_path)
    texts: dict[int, str] = {0: "", 1: ""}
    for event in events:
        for choice in event["choices"]:
            texts[choice["index"]] += choice["delta"]["content"]
    assert texts[0] == "plain text", "the other choice keeps its own text"
    assert texts[1].startswith("mail ") and texts[1].endswith(" now") and EMAIL not in texts[1]


async def test_a_responses_reply_is_masked_in_its_text_and_function_call(tmp_path: Path) -> None:
    reply = {
        "id": "resp_1",
        "object": "response",
        "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": f"mail {EMAIL}"}]},
            {"type": "function_call", "name": "send", "arguments": f'{{"to": "{EMAIL}"}}'},
        ],
        "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
    }
    async with _guarded(tmp_path, lambda request: FakeAnswer.json(reply)) as proxy:
        result = await proxy.service.handle("responses", orjson.dumps({"model": "masked", "input": "hi"}), MASTER)
    assert isinstance(result, ProxyReply) and result.status == 200
    assert EMAIL not in result.body.decode()
    output = orjson.loads(result.body)["output"]
    assert output[0]["content"][0]["text"].startswith("mail ") and "to" in orjson.loads(output[1]["arguments"])


async def test_a_responses_request_with_list_input_and_instructions_is_masked_before_the_upstream(
    tmp_path: Path,
) -> None:
    sent: list[dict[str, Any]] = []

    def upstream(request: UpstreamRequest) -> FakeAnswer:
        sent.append(request.json())
        return FakeAnswer.json({"id": "resp_1", "object": "response", "output": []})

    body = {
        "model": "masked-in",
        "instructions": f"reply to {EMAIL}",
        "input": [
            {"role": "user", "content": f"write to {EMAIL}"},
            {"role": "user", "content": [{"type": "input_text", "text": f"cc {EMAIL}"}]},
        ],
    }
    async with _guarded(tmp_path, upstream) as proxy:
        result = await proxy.service.handle("responses", orjson.dumps(body), MASTER)
    assert isinstance(result, ProxyReply) and result.status == 200
    assert EMAIL not in orjson.dumps(sent[0]).decode()
    assert sent[0]["input"][1]["content"][0]["text"].startswith("cc ")


def _responses_stream(pieces: list[str]) -> FakeAnswer:
    text = "".join(pieces)
    item = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": {"id": "r", "output": []}}]
    events += [
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": p} for p in pieces
    ]
    events += [
        {"type": "response.output_text.done", "output_index": 0, "content_index": 0, "text": text},
        {"type": "response.content_part.done", "part": {"type": "output_text", "text": text}},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": {"id": "r", "output": [item]}},
    ]
    blocks = [b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events]
    return FakeAnswer(events=blocks)


async def test_a_held_responses_stream_is_masked_in_its_deltas_and_its_whole_texts(tmp_path: Path) -> None:
    answer = _responses_stream(["mail x.y@corp", ".example.com now"])
    events = await _stream(answer, "responses", {"model": "masked", "input": "hi"}, tmp_path)
    assert EMAIL not in orjson.dumps(events).decode()
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    done = next(e for e in events if e["type"] == "response.output_text.done")["text"]
    completed = next(e for e in events if e["type"] == "response.completed")
    assert deltas == done == completed["response"]["output"][0]["content"][0]["text"]
    assert deltas.startswith("mail ") and deltas.endswith(" now")


async def test_a_held_responses_stream_keeps_its_event_lines(tmp_path: Path) -> None:
    answer = _responses_stream(["mail x.y@corp", ".example.com now"])
    raw = await _raw_stream(answer, "responses", {"model": "masked", "input": "hi"}, tmp_path)
    events = [e for e in raw.split(b"\n\n") if e.strip()]
    assert all(e.startswith(b"event: response.") for e in events), events[:2]
    assert b"[DONE]" not in raw, "a Responses stream gets no [DONE] it did not send"


async def test_a_held_responses_stream_with_a_card_number_is_blocked(tmp_path: Path) -> None:
    with pytest.raises(GuardrailBlockedError):
        await _stream(
            _responses_stream(["4111-1111-", "1111-1111"]), "responses", {"model": "blocked", "input": "hi"}, tmp_path
        )


async def test_a_stream_with_nothing_to_mask_goes_out_byte_for_byte(tmp_path: Path) -> None:
    answer = _responses_stream(["nothing ", "personal"])
    raw = await _raw_stream(answer, "responses", {"model": "masked", "input": "hi"}, tmp_path)
    assert raw == b"".join(answer.events or ())
