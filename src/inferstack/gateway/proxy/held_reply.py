"""A held stream's reply: assembled part by part, checked by post-call guardrails as one reply, let out masked.

A streamed reply spreads each text over many events: a choice's text over `delta.content` (chat) or `text`
(completions), each tool call's arguments over `delta.tool_calls[i].function.arguments`, and in the Responses API
each output text and function call's arguments over `*.delta` events. Each such part is joined (per choice, per
tool call, per output item), and the parts go to the guardrails together in the JSON reply's shape, so a stream is
checked exactly as the same reply without `stream` would be. The Responses API's events that repeat a whole text
(`*.done`, `response.completed`) are checked in place as well.

When a guardrail masks, each changed part goes out whole in the first event that carried a piece of it and its
later pieces go out empty, so the client's reassembled reply is the masked one; events with nothing changed are let
out byte for byte, `event:` lines and all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from inferstack.gateway.guardrails.base import Guardrail
from inferstack.gateway.guardrails.pipeline import check_reply
from inferstack.gateway.sse_relay import parse_event

_EVENT_END = b"\n\n"
# Responses API stream events whose delta is a piece of one part, by the part they belong to.
_RESPONSES_DELTAS = {
    "response.output_text.delta": "text",
    "response.refusal.delta": "text",
    "response.function_call_arguments.delta": "arguments",
}


class _Part:
    """One text of the reply (a choice's text, a tool call's arguments, an output item's text) and where each of
    its streamed pieces sits: (container, key) pairs inside the parsed events."""

    __slots__ = ("pieces", "probe")

    def __init__(self) -> None:
        self.pieces: list[tuple[dict[str, Any], str]] = []
        self.probe: dict[str, Any] = {"text": ""}  # the joined text, as a content part the guardrails mask in place

    def add(self, container: dict[str, Any], key: str) -> None:
        self.pieces.append((container, key))
        self.probe["text"] += container[key]

    def spread(self) -> None:
        """The masked text in the first piece, the later pieces empty (when the guardrails changed the text)."""
        if self.probe["text"] == "".join(container[key] for container, key in self.pieces):
            return
        for n, (container, key) in enumerate(self.pieces):
            container[key] = self.probe["text"] if n == 0 else ""


class _HeldReply:
    """The parsed events of a held stream and the parts assembled from them."""

    def __init__(self, route: str, events: list[bytes]) -> None:
        self.route = route
        self.events = events
        self.parsed = [parse_event(event) for event in events]
        self.parts: dict[tuple[Any, ...], _Part] = {}
        self.whole: list[Any] = []  # Responses API items and parts that carry a whole text (checked in place)
        for event in self.parsed:
            if event is not None:
                self._collect(event)

    def _part(self, *key: Any) -> _Part:
        return self.parts.setdefault(key, _Part())

    def _collect(self, event: dict[str, Any]) -> None:
        for choice in event.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            if self.route == "completions" and isinstance(choice.get("text"), str):
                self._part(index, "text").add(choice, "text")
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                continue
            if isinstance(delta.get("content"), str):
                self._part(index, "text").add(delta, "content")
            for position, call in enumerate(delta.get("tool_calls") or ()):
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    call_index = call.get("index", position)
                    self._part(index, "tool", call_index).add(function, "arguments")
        kind = event.get("type")
        if not isinstance(kind, str):
            return
        if kind in _RESPONSES_DELTAS and isinstance(event.get("delta"), str):
            key = (event.get("output_index", 0), event.get("content_index", 0), _RESPONSES_DELTAS[kind])
            self._part("output", *key).add(event, "delta")
        elif kind == "response.output_text.done":
            self.whole.append({"content": [event]})  # its `text`
        elif kind in ("response.function_call_arguments.done", "response.refusal.done"):
            self.whole.append(event)  # its `arguments` / `refusal`
        elif isinstance(event.get("part"), dict):
            self.whole.append({"content": [event["part"]]})
        elif isinstance(event.get("item"), dict):
            self.whole.append(event["item"])
        elif isinstance(event.get("response"), dict):
            self.whole.extend(event["response"].get("output") or ())

    def probe(self) -> dict[str, Any]:
        """The reply in JSON shape, its texts being the parts' probes and the whole-text items themselves."""
        return {"output": [{"content": [part.probe]} for part in self.parts.values()] + self.whole}

    def let_out(self) -> list[bytes]:
        """Every event: re-encoded when the guardrails changed it (its pieces, or a whole text in it), else as it
        came."""
        for part in self.parts.values():
            part.spread()
        out = []
        for raw, parsed in zip(self.events, self.parsed, strict=True):
            if parsed is not None and parse_event(raw) != parsed:
                raw = _with_data(raw, parsed)
            out.append(raw + _EVENT_END)
        return out


def guard_held_reply(guardrails: Sequence[Guardrail], route: str, blocks: list[bytes]) -> list[bytes] | None:
    """The events to let out when post-call guardrails masked the held reply in `blocks`, None when they changed
    nothing; raises `GuardrailBlockedError` when one blocks it."""
    events = [event for block in blocks for event in block.split(_EVENT_END) if event.strip()]
    held = _HeldReply(route, events)
    if not check_reply(guardrails, route, held.probe()):
        return None
    return held.let_out()


def _with_data(raw: bytes, payload: dict[str, Any]) -> bytes:
    """`raw` with its `data:` line holding `payload` (other lines, such as `event:`, kept)."""
    lines = raw.split(b"\n")
    data = b"data: " + orjson.dumps(payload)
    kept, placed = [], False
    for line in lines:
        if line.startswith(b"data:"):
            if not placed:
                kept.append(data)
                placed = True
            continue
        kept.append(line)
    return b"\n".join(kept)
