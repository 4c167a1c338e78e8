"""The upstream attempt span of a stream, open while the stream is relayed and ended exactly once when it ends.

Opening the stream (the retry decision, up to the first byte) happens inside the span; the relay then shows it
each block of SSE events as it passes, and `end` closes it when the last chunk was relayed, the upstream broke
off, or the client left (`error.type=cancelled`). It records the time to the first token (the first event that
carries text, with a `first_token` event), the response id and model, the finish reasons, the token counts
from the stream's usage chunk, and with `capture_content` the streamed text and tool calls (at most
`MAX_CAPTURED_CHARS` per choice, built by `answer_attributes` as for a JSON reply; a reply that post-call
guardrails check is recorded as they let it out, masked). Events are parsed only where that needs it: the first
one, those that name a finish reason, and every one only while content is captured. None of this exists while
tracing is off.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from inferstack.gateway.proxy.answer_attributes import MAX_CAPTURED_CHARS, CapturedOutput, set_identity, set_usage
from inferstack.observability import genai

__all__ = ["CANCELLED", "MAX_CAPTURED_CHARS", "TTFT_ATTRIBUTE", "StreamSpan"]

TTFT_ATTRIBUTE = "inferstack.time_to_first_token_ms"
CANCELLED = "cancelled"
_SEPARATOR = b"\n\n"
# A delta that carries text: chat `"content":"x`, completions `"text":"x`, the Responses API `"delta":"x`.
_TEXT_MARKERS = (b'"content":"', b'"content": "', b'"text":"', b'"text": "', b'"delta":"', b'"delta": "')
_FINISH_MARKERS = (b'"finish_reason":"', b'"finish_reason": "')


class StreamSpan:
    """What one relayed stream records on its attempt span; `end` is idempotent."""

    __slots__ = (
        "_attributes",
        "_calls",
        "_capture",
        "_deferred",
        "_ended",
        "_finish_reasons",
        "_first_token",
        "_first_token_ns",
        "_identified",
        "_kept",
        "_started",
        "_texts",
        "span",
    )

    def __init__(self, span: Span, *, capture: bool, started: float) -> None:
        self.span = span
        self._capture = capture
        self._deferred = False
        self._started = started
        self._first_token = False
        self._first_token_ns = 0
        self._identified = False
        self._attributes: dict[str, AttributeValue] = {}  # set at the end, in one call
        self._ended = False
        self._finish_reasons: dict[int, str] = {}
        self._texts: dict[int, list[str]] = {}
        self._calls: dict[int, dict[int, _StreamedCall]] = {}  # per choice, its tool calls by their index
        self._kept: dict[int, int] = {}

    @property
    def ended(self) -> bool:
        return self._ended

    def observe(self, block: bytes) -> None:
        """One block of complete SSE events, as relayed to the client. Once the first token and the response id
        are seen, a block is only searched for a finish reason unless content is captured."""
        if (
            self._first_token
            and self._identified
            and not self._capture
            and _FINISH_MARKERS[0] not in block
            and _FINISH_MARKERS[1] not in block
        ):
            return
        for event in block.split(_SEPARATOR):
            if not event.startswith(b"data:") or event.startswith(b"data: [DONE]"):
                continue
            if not self._first_token and _has_text(event):
                self._first_token = True
                self._first_token_ns = time.time_ns()
                self._attributes[TTFT_ATTRIBUTE] = (time.perf_counter() - self._started) * 1000
            if self._capture or not self._identified or _FINISH_MARKERS[0] in event or _FINISH_MARKERS[1] in event:
                payload = _payload(event)
                if payload is not None:
                    self._read(payload)

    def defer_text(self) -> None:
        """Post-call guardrails will check (and may mask) the reply: its text is taken from `let_out` instead."""
        self._deferred, self._capture = self._capture, False

    def let_out(self, blocks: Iterable[bytes]) -> None:
        """The reply as the guardrails let it out to the client (with content capture, its text is recorded)."""
        if self._deferred:
            self._capture, self._deferred = True, False
            for block in blocks:
                self.observe(block)

    def _read(self, payload: dict[str, Any]) -> None:
        if not self._identified:
            self._identified = True
            response = payload.get("response")  # the Responses API's first event, `response.created`, nests it
            set_identity(self._attributes, response if isinstance(response, dict) else payload)
        if payload.get("type") == "response.output_text.delta":  # the Responses API
            if self._capture and isinstance(payload.get("delta"), str):
                self._append(0, self._texts.setdefault(0, []), payload["delta"])
            return
        for choice in payload.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            index = choice.get("index")
            if not isinstance(index, int):
                index = 0
            if isinstance(choice.get("finish_reason"), str):
                self._finish_reasons[index] = choice["finish_reason"]
            if self._capture:
                delta = choice.get("delta")
                text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
                if isinstance(text, str):
                    self._append(index, self._texts.setdefault(index, []), text)
                if isinstance(delta, dict) and isinstance(delta.get("tool_calls"), list):
                    self._append_calls(index, delta["tool_calls"])

    def _append_calls(self, index: int, deltas: list[Any]) -> None:
        """Tool-call deltas: the first names the call (id, type, function name), the rest add to its arguments."""
        calls = self._calls.setdefault(index, {})
        for delta in deltas:
            if not isinstance(delta, dict):
                continue
            position = delta.get("index")
            position = position if isinstance(position, int) else 0
            call = calls.get(position)
            if call is None:
                if not self._append(index, [], " "):  # each call counts against the bound, so their number is too
                    continue
                call = calls[position] = _StreamedCall()
            function = delta.get("function")
            function = function if isinstance(function, dict) else {}
            for field, value in (("id", delta.get("id")), ("type", delta.get("type")), ("name", function.get("name"))):
                if isinstance(value, str) and value and not getattr(call, field):
                    self._append(index, getattr(call, field), value)
            if isinstance(function.get("arguments"), str):
                self._append(index, call.arguments, function["arguments"])

    def _append(self, index: int, parts: list[str], text: str) -> bool:
        """Keep at most one character over the bound per choice (text and tool calls together), so a long stream
        holds no more than that; False once the choice is past it."""
        kept = self._kept.get(index, 0)
        if kept > MAX_CAPTURED_CHARS:
            return False
        parts.append(text[: MAX_CAPTURED_CHARS + 1 - kept])
        self._kept[index] = kept + len(parts[-1])
        return True

    def end(self, usage: dict[str, Any] | None, *, outcome: str | None = None) -> None:
        """Close the span once: `outcome` None for a stream relayed to its end, else the error type
        (`cancelled` when the client left, the upstream failure's kind when the stream broke)."""
        if self._ended:
            return
        self._ended = True
        span, attributes = self.span, self._attributes
        if self._finish_reasons:
            attributes[genai.FINISH_REASONS] = [self._finish_reasons[i] for i in sorted(self._finish_reasons)]
        set_usage(attributes, usage)
        if self._capture and (self._texts or self._calls):
            self._record_output(attributes)
        if outcome is not None:
            attributes[genai.ERROR_TYPE] = outcome
        span.set_attributes(attributes)
        if self._first_token_ns:
            span.add_event("first_token", timestamp=self._first_token_ns)
        if outcome == CANCELLED:
            span.add_event(CANCELLED)
        elif outcome is not None:
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def _record_output(self, attributes: dict[str, AttributeValue]) -> None:
        output = CapturedOutput()
        for index in sorted(self._texts.keys() | self._calls.keys()):
            text = "".join(self._texts[index]) if index in self._texts else None
            calls = self._calls.get(index, {})
            output.add(text, self._finish_reasons.get(index), [calls[p].as_openai() for p in sorted(calls)])
        output.record(attributes)


class _StreamedCall:
    """One tool call as its deltas arrive (each field a list of the kept pieces)."""

    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self) -> None:
        self.id: list[str] = []
        self.type: list[str] = []
        self.name: list[str] = []
        self.arguments: list[str] = []

    def as_openai(self) -> dict[str, Any]:
        function = {"name": "".join(self.name), "arguments": "".join(self.arguments)}
        return {"id": "".join(self.id), "type": "".join(self.type) or "function", "function": function}


def _has_text(event: bytes) -> bool:
    for marker in _TEXT_MARKERS:
        at = event.find(marker)
        if at >= 0 and event[at + len(marker) : at + len(marker) + 1] != b'"':
            return True
    return False


def _payload(event: bytes) -> dict[str, Any] | None:
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            try:
                parsed = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                return None
            return parsed if isinstance(parsed, dict) else None
    return None
