"""Server-sent events framing, in one place for every service: `data: <json>\\n\\n` events, named events
(`event: <name>\\ndata: <json>\\n\\n`, the agent's stream) and OpenAI's closing `data: [DONE]\\n\\n`.

Framing only; parsing an upstream's stream lives with the code that reads it.
"""

from __future__ import annotations

from typing import Any

import orjson

DONE_EVENT = b"data: [DONE]\n\n"


def sse_event(payload: Any, *, event: str | None = None) -> bytes:
    """One event carrying `payload` as compact JSON; `event` names it (OpenAI streams leave it unnamed)."""
    data = b"data: " + orjson.dumps(payload) + b"\n\n"
    if event is None:
        return data
    if not event or any(c in event for c in "\r\n:"):
        raise ValueError(f"an SSE event name must be one non-empty line without ':' (got {event!r})")
    return b"event: " + event.encode() + b"\n" + data
