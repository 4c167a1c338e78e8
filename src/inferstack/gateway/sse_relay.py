"""Relays an upstream SSE stream event by event, reading usage as it passes and hiding what we injected.

Events are forwarded as soon as they are complete (an event is a block ending in a blank line). Only events
whose `usage` is an object are parsed (OpenAI-style servers send `"usage":null` in every chunk once usage is
requested), so the relay costs a byte search per event on the common path. A malformed stream (an event
over `MAX_EVENT_BYTES`, a `data:` payload that is not a JSON object, a stream that ends inside an event) raises
`UpstreamFailure`, which the stream path turns into an OpenAI error event; the check on each payload is
structural (braces at both ends), not a parse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from inferstack.gateway.upstreams.base import UpstreamFailure

_SEPARATOR = b"\n\n"
MAX_EVENT_BYTES = 4 * 1024 * 1024  # one SSE event; OpenAI-style servers send a few hundred bytes per chunk


@dataclass
class RelayState:
    usage: dict[str, Any] | None = None
    done: bool = False
    events: list[bytes] = field(default_factory=list)


def _event_payload(event: bytes) -> bytes | None:
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            return line[5:].strip()
    return None


async def relay_events(
    chunks: AsyncIterator[bytes], state: RelayState, *, hide_usage_chunk: bool
) -> AsyncIterator[bytes]:
    """Yield complete SSE events (each ending in a blank line) from raw upstream chunks."""
    pending = b""
    async for chunk in chunks:
        pending += chunk.replace(b"\r\n", b"\n")
        if _SEPARATOR not in pending:
            _check_size(pending)
            continue
        *complete, pending = pending.split(_SEPARATOR)
        _check_size(pending)
        out = []
        for event in complete:
            if not event.strip():
                continue
            _check_payload(event)
            if b'"usage":{' in event or b'"usage": {' in event:
                payload = _event_payload(event)
                if payload is not None and payload != b"[DONE]":
                    parsed = _parse(payload)
                    if isinstance(parsed, dict) and isinstance(parsed.get("usage"), dict):
                        state.usage = parsed["usage"]
                        if hide_usage_chunk and not parsed.get("choices"):
                            continue
                    elif isinstance(parsed, dict) and parsed.get("type") == "response.completed":
                        usage = (parsed.get("response") or {}).get("usage")  # the Responses API's final event
                        if isinstance(usage, dict):
                            state.usage = usage
            elif event.startswith(b"data: [DONE]"):
                state.done = True
            out.append(event + _SEPARATOR)
        if out:
            yield b"".join(out)
    if pending.strip():
        _check_payload(pending)  # a last event without its blank line is fine when it is whole
        payload = _event_payload(pending)
        if payload is not None and payload != b"[DONE]":
            _parse(payload)
        yield pending + _SEPARATOR


def _check_size(pending: bytes) -> None:
    if len(pending) > MAX_EVENT_BYTES:
        raise UpstreamFailure("stream", f"the upstream sent an SSE event over {MAX_EVENT_BYTES} bytes")


def _check_payload(event: bytes) -> None:
    payload = _event_payload(event)
    if payload is not None and payload != b"[DONE]" and not (payload[:1] == b"{" and payload[-1:] == b"}"):
        raise UpstreamFailure("stream", "the upstream sent an SSE data line that is not a JSON object")


def _parse(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UpstreamFailure("stream", "the upstream sent an SSE data line that is not JSON") from None


def parse_event(event: bytes) -> dict[str, Any] | None:
    """The JSON object of one `data:` event, or None for [DONE] / comments."""
    payload = _event_payload(event)
    if payload is None or payload == b"[DONE]":
        return None
    parsed = orjson.loads(payload)
    return parsed if isinstance(parsed, dict) else None
