"""The upstream attempt span of a JSON (non-streamed) reply, held open from its 200 until the JSON path has read it.

The JSON path parses the reply once (for usage, guardrails and the cache) and hands that parse to `end`, after the
post-call guardrails ran, so the span records the answer as the client got it (masked) and never parses it again.
The span ends at the time the reply arrived: it measures the upstream, not the gateway's work on the reply.
None of this exists while tracing is off.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from inferstack.gateway.proxy.answer_attributes import reply_attributes
from inferstack.observability import genai


class ReplySpan:
    """An open attempt span of a 200 JSON reply; `end` records the parsed reply on it, once."""

    __slots__ = ("_capture", "_ended", "_replied_ns", "span")

    def __init__(self, span: Span, *, capture: bool) -> None:
        self.span = span
        self._capture = capture
        self._replied_ns = time.time_ns()
        self._ended = False

    def end(self, reply: Mapping[str, Any] | None, *, outcome: str | None = None) -> None:
        """`reply` is the parsed body as sent to the client (None when it was not a JSON object); `outcome` the
        error type when the gateway did not send it (a post-call guardrail blocked it), else None."""
        if self._ended:
            return
        self._ended = True
        span = self.span
        if reply is not None:
            # A blocked answer never reached the client: its tokens and id are recorded, its text is not.
            span.set_attributes(reply_attributes(reply, capture=self._capture and outcome is None))
        if outcome is not None:
            span.set_attribute(genai.ERROR_TYPE, outcome)
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=self._replied_ns)
