"""Agent spans, added around the query strategy and its stages without touching them (only while tracing is on).

`invoke_agent <mode>` spans one `/query` (session id, route, relevance); under it `retrieval` (the embedding
call of the traced OpenAI client, then `vector_search`), `grade` (relevance grading, with its LLM judge's
calls) and `web_search` (the MCP call's `execute_tool` span). Strands' own agent/model/tool spans (agentic
mode) use the same global provider and nest under the current span.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from inferstack.agents.query import PlanEvent, Query, QueryEvent
from inferstack.agents.service import QueryStrategy
from inferstack.observability import genai
from inferstack.observability.tracing import tracing_enabled

tracer = trace.get_tracer("inferstack.agent")


class TracedStrategy:
    """Runs the wrapped strategy inside an `invoke_agent` span that outlives each streamed event."""

    def __init__(self, inner: QueryStrategy, *, mode: str) -> None:
        self._inner = inner
        self._mode = mode

    async def stream(self, query: Query) -> AsyncGenerator[QueryEvent, None]:
        span = tracer.start_span(
            f"invoke_agent {self._mode}",
            kind=SpanKind.INTERNAL,
            attributes={genai.OPERATION: "invoke_agent", genai.AGENT_NAME: self._mode, "inferstack.top_k": query.top_k},
        )
        genai.set_session(span, query.session_id)
        active = trace.set_span_in_context(span)
        events = self._inner.stream(query)
        try:
            while True:
                token = context.attach(active)
                try:
                    event = await events.__anext__()
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    span.set_attribute(genai.ERROR_TYPE, type(exc).__name__)
                    span.set_status(Status(StatusCode.ERROR))
                    raise
                finally:
                    context.detach(token)
                if isinstance(event, PlanEvent):
                    _record_plan(span, event)
                yield event
        finally:
            token = context.attach(active)
            try:
                await events.aclose()
            finally:
                context.detach(token)
                span.end()


def _record_plan(span: trace.Span, event: PlanEvent) -> None:
    plan = event.plan
    span.set_attribute("inferstack.route", str(plan.route))
    span.set_attribute("inferstack.sources", len(plan.sources))
    if plan.relevance is not None:
        span.set_attribute("inferstack.relevance", plan.relevance.score)


def traced_method(owner: object, method: str, name: str, **attributes: Any) -> None:
    """Replace `owner.method` (an async method) on this instance by one that runs in a span called `name`."""
    original: Callable[..., Awaitable[Any]] = getattr(owner, method)

    @functools.wraps(original)
    async def call(*args: Any, **kwargs: Any) -> Any:
        with tracer.start_as_current_span(name, kind=SpanKind.INTERNAL, attributes=attributes):
            return await original(*args, **kwargs)

    setattr(owner, method, call)


def instrument_supervisor(agent: Any) -> None:
    """Spans around the supervisor's stages: retrieval (and its vector search), grading and web search."""
    knowledge = agent.knowledge
    traced_method(knowledge, "retrieve", "retrieval", **{genai.OPERATION: "retrieval"})
    traced_method(knowledge.store, "search", "vector_search", **{"db.system": type(knowledge.store).__name__})
    traced_method(agent.grader, "grade", "grade")
    if agent.web is not None:
        traced_method(agent.web, "search", "web_search")


def traced_strategy(strategy: QueryStrategy, mode: str) -> QueryStrategy:
    """`strategy` itself while tracing is off; else wrapped in `invoke_agent` with its stages instrumented."""
    if not tracing_enabled():
        return strategy
    if mode == "supervisor":
        instrument_supervisor(strategy)
    return TracedStrategy(strategy, mode=mode)
