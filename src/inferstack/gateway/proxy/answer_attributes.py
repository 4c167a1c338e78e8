"""What an upstream attempt span records of the model's answer, for the JSON path and the stream path alike: the
response id and model, the token counts, and with `capture_content` the output messages, bounded.

`CapturedOutput` is the one place that builds `gen_ai.output.messages` (`[{"role", "content", "finish_reason",
"tool_calls"}]`, one per choice) and cuts it at `MAX_CAPTURED_CHARS` per choice; `reply_attributes` reads a whole
JSON reply (chat, completions, embeddings, the Responses API). Built only while tracing is on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from opentelemetry.util.types import AttributeValue

from inferstack.observability import genai

MAX_CAPTURED_CHARS = 65_536  # per choice; a longer answer is cut there and marked truncated
TRUNCATED_ATTRIBUTE = "inferstack.output.truncated"

Attributes = dict[str, AttributeValue]


def set_identity(attributes: Attributes, payload: Mapping[str, Any]) -> None:
    """`gen_ai.response.id` and `gen_ai.response.model` from a reply or a stream's first event."""
    if isinstance(payload.get("id"), str):
        attributes[genai.RESPONSE_ID] = payload["id"]
    if isinstance(payload.get("model"), str):
        attributes[genai.RESPONSE_MODEL] = payload["model"]


def set_usage(attributes: Attributes, usage: object) -> None:
    """Token counts from `usage`: prompt/completion tokens, or the Responses API's input/output tokens."""
    if not isinstance(usage, Mapping):
        return
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens"))
    if isinstance(prompt, int) and not isinstance(prompt, bool):
        attributes[genai.INPUT_TOKENS] = prompt
    if isinstance(completion, int) and not isinstance(completion, bool):
        attributes[genai.OUTPUT_TOKENS] = completion


class CapturedOutput:
    """The output messages of one answer, each choice's text and tool calls cut at `MAX_CAPTURED_CHARS` in all."""

    __slots__ = ("_left", "messages", "truncated")

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.truncated = False
        self._left = 0  # characters the current choice may still take

    def add(self, content: str | None, finish_reason: str | None = None, tool_calls: object = None) -> None:
        """One choice: its text (None when it only calls tools), why it finished, and its tool calls as OpenAI
        sends them (`[{"id", "type", "function": {"name", "arguments"}}]`)."""
        self._left = MAX_CAPTURED_CHARS
        message: dict[str, Any] = {"role": "assistant", "content": self._take(content)}
        if isinstance(tool_calls, list) and tool_calls:
            message["tool_calls"] = self._tool_calls(tool_calls)
        if finish_reason is not None:
            message["finish_reason"] = finish_reason
        self.messages.append(message)

    def record(self, attributes: Attributes) -> None:
        if self.messages:
            attributes[genai.OUTPUT_MESSAGES] = orjson.dumps(self.messages).decode()
        if self.truncated:
            attributes[TRUNCATED_ATTRIBUTE] = True

    def _tool_calls(self, calls: list[Any]) -> list[dict[str, Any]]:
        kept = []
        for call in calls:
            if not isinstance(call, dict):
                continue
            if self._left <= 0:  # every kept call costs at least one character, so their number is bounded too
                self.truncated = True
                break
            self._left -= 1
            function = call.get("function")
            function = function if isinstance(function, dict) else {}
            kept.append(
                {
                    "id": self._take(_text(call.get("id"))),
                    "type": self._take(_text(call.get("type")) or "function"),
                    "function": {
                        "name": self._take(_text(function.get("name"))),
                        "arguments": self._take(_text(function.get("arguments"))),
                    },
                }
            )
        return kept

    def _take(self, text: str | None) -> str | None:
        """`text` cut to what the current choice may still take (which it then uses up)."""
        if text is None:
            return None
        if len(text) > self._left:
            text, self.truncated = text[: max(self._left, 0)], True
        self._left -= len(text)
        return text


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def reply_attributes(reply: Mapping[str, Any], *, capture: bool) -> Attributes:
    """The answer's attributes from a parsed 200 JSON reply: id, model, finish reasons in choice order, token
    counts, and with `capture` the output messages (the Responses API's `output` items as one message each)."""
    attributes: Attributes = {}
    set_identity(attributes, reply)
    output = CapturedOutput() if capture else None
    choices = reply.get("choices")
    if isinstance(choices, list):
        reasons = []
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            reason = choice.get("finish_reason")
            if isinstance(reason, str):
                reasons.append(reason)
            if output is not None:
                message = choice.get("message")
                if isinstance(message, dict):
                    output.add(_text(message.get("content")), _text(reason), message.get("tool_calls"))
                else:
                    output.add(_text(choice.get("text")), _text(reason))
        if reasons:
            attributes[genai.FINISH_REASONS] = reasons
    elif output is not None and isinstance(reply.get("output"), list):
        for item in reply["output"]:
            _add_response_item(output, item)
    set_usage(attributes, reply.get("usage"))
    if output is not None:
        output.record(attributes)
    return attributes


def _add_response_item(output: CapturedOutput, item: object) -> None:
    """A Responses API output item: a message (its output text) or a function call."""
    if not isinstance(item, dict):
        return
    if item.get("type") == "message":
        parts = item.get("content")
        parts = parts if isinstance(parts, list) else []
        output.add("".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)))
    elif item.get("type") == "function_call":
        call = {"id": item.get("call_id"), "type": "function", "function": item}
        output.add(None, None, [call])
