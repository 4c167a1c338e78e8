"""The model server's span for one generation: `generate` (INTERNAL) under the request's SERVER span.

Events mark the phases: `queued` when the engine takes the request, `first_token` when prompt processing
(and any wait for a free slot before it) is done, `finished` with the finish reason. Token counts and the
time to first token are attributes. `generation_span()` is None while tracing is off, so the engine loop
pays one flag check.
"""

from __future__ import annotations

import time

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from inferstack.observability import genai
from inferstack.observability.tracing import tracing_enabled

tracer = trace.get_tracer("inferstack.serve")


class GenerationSpan:
    __slots__ = ("_first", "_span", "_started")

    def __init__(self, span: Span) -> None:
        self._span = span
        self._started = time.perf_counter()
        self._first: float | None = None
        span.add_event("queued")

    def first_token(self) -> None:
        if self._first is None:
            self._first = time.perf_counter()
            self._span.add_event("first_token")
            self._span.set_attribute("inferstack.time_to_first_token_ms", (self._first - self._started) * 1000)

    def finished(self, reason: str, prompt_tokens: int, completion_tokens: int) -> None:
        span = self._span
        span.set_attribute(genai.FINISH_REASONS, [reason])
        span.set_attribute(genai.INPUT_TOKENS, prompt_tokens)
        span.set_attribute(genai.OUTPUT_TOKENS, completion_tokens)
        if self._first is not None and completion_tokens > 1:
            per_token = (time.perf_counter() - self._first) / (completion_tokens - 1)
            span.set_attribute("inferstack.time_per_output_token_ms", per_token * 1000)
        span.add_event("finished", {"finish_reason": reason})

    def end(self, *, completed: bool) -> None:
        if not completed:
            self._span.set_attribute(genai.ERROR_TYPE, "cancelled")
        self._span.end()


def generation_span(prompt_tokens: int, in_flight: int, slots: int) -> GenerationSpan | None:
    """A span for one engine generation, child of the current (request) span; None when tracing is off."""
    if not tracing_enabled():
        return None
    span = tracer.start_span(
        "generate",
        kind=SpanKind.INTERNAL,
        attributes={
            genai.OPERATION: "chat",
            "inferstack.prompt_tokens": prompt_tokens,
            "inferstack.requests_in_flight": in_flight,
            "inferstack.slots": slots,
        },
    )
    return GenerationSpan(span)
