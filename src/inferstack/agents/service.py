"""`QueryService`: answers queries with the configured strategy (supervisor or agentic), with metrics and a deadline.

It fills defaults (session id, top_k), counts queries by route and outcome, times each stage, and knows no
web framework. Concurrent queries share nothing but the services they call and the session store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Protocol

from inferstack.agents.metrics import AgentMetrics
from inferstack.agents.query import DoneEvent, PlanEvent, Query, QueryEvent, QueryResult
from inferstack.agents.sessions import SessionStore
from inferstack.core.errors import InferstackError, OverloadedError, UpstreamError

PLAN_STAGES = ("retrieval", "grading", "web_search")
DONE_STAGES = ("generation", "total")


class QueryTimeoutError(InferstackError):
    status_code = 504
    error_type = "timeout_error"
    default_code = "query_timeout"


class QueryStrategy(Protocol):
    def stream(self, query: Query) -> AsyncGenerator[QueryEvent, None]: ...


@dataclass(frozen=True)
class QueryDefaults:
    top_k: int
    timeout_s: float


def outcome_of(exc: BaseException, *, past_deadline: bool = False) -> str:
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        # /query's deadline cancels the work too; only a cancellation before it is the client's doing.
        return "timeout" if past_deadline else "cancelled"
    if isinstance(exc, OverloadedError):
        return "unavailable"
    if isinstance(exc, UpstreamError):
        return "upstream_error"
    return "error"


class QueryService:
    def __init__(
        self, strategy: QueryStrategy, sessions: SessionStore, metrics: AgentMetrics, defaults: QueryDefaults
    ) -> None:
        self.strategy = strategy
        self.sessions = sessions
        self.metrics = metrics
        self.defaults = defaults

    def make_query(
        self, question: str, session_id: str | None, top_k: int | None, use_web_search: bool | None
    ) -> Query:
        return Query(
            question=question,
            session_id=session_id or self.sessions.new_id(),
            top_k=top_k or self.defaults.top_k,
            use_web_search=use_web_search,
        )

    async def answer(self, query: Query) -> QueryResult:
        result: QueryResult | None = None
        try:
            async with asyncio.timeout(self.defaults.timeout_s):
                async for event in self.stream(query):
                    if isinstance(event, DoneEvent):
                        result = event.result
        except TimeoutError:
            raise QueryTimeoutError(f"the query took longer than {self.defaults.timeout_s:g} s") from None
        if result is None:  # pragma: no cover - every strategy ends with DoneEvent
            raise RuntimeError("the query ended without a result")
        return result

    async def stream(self, query: Query) -> AsyncGenerator[QueryEvent, None]:
        """The strategy's events, with metrics recorded however the stream ends (done, error, client gone)."""
        route = "undecided"
        done = False
        started = time.monotonic()
        self.metrics.queries_in_flight.inc()
        try:
            async with aclosing(self.strategy.stream(query)) as events:
                async for event in events:
                    if isinstance(event, PlanEvent):
                        route = event.plan.route.value
                        self.metrics.observe_timings(event.timings, PLAN_STAGES)
                        if any(w.startswith("web search unavailable") for w in event.plan.warnings):
                            self.metrics.web_search_failures.inc()
                    if isinstance(event, DoneEvent):
                        done = True
                        self.metrics.queries.labels(route, "ok").inc()
                        self.metrics.observe_timings(event.result.timings, DONE_STAGES)
                    yield event
        except BaseException as exc:
            if not done:
                past_deadline = time.monotonic() - started >= self.defaults.timeout_s
                self.metrics.queries.labels(route, outcome_of(exc, past_deadline=past_deadline)).inc()
            raise
        finally:
            self.metrics.queries_in_flight.dec()
            self.metrics.sessions.set(len(self.sessions))
