"""Server-sent events framing for OpenAI streams: `data: <json>\\n\\n` ... `data: [DONE]\\n\\n`."""

from __future__ import annotations

from typing import Any

import orjson

DONE_EVENT = b"data: [DONE]\n\n"


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
