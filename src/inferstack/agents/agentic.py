"""`agent.mode: agentic`: a Strands Agent per request drives the tools itself (for capable models).

Each request gets a fresh Agent seeded with its own session's history, a turn cap, and its own `ToolTrace`;
sources and the route are read from what the tools actually returned, never from the model's text. The answer
is produced whole, so a stream carries the plan, then the answer (cleaned of prompt scaffolding and repetition
loops, see `answer_cleanup`) as one delta.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import openai
from strands import Agent
from strands.types.exceptions import (
    ContextWindowOverflowException,
    EventLoopException,
    MaxTokensReachedException,
    ModelThrottledException,
)

from inferstack.agents.answer_cleanup import clean_answer
from inferstack.agents.answer_prompt import knowledge_sources, web_sources
from inferstack.agents.chat_model import ChatModel, upstream_error
from inferstack.agents.prompt_templates import render
from inferstack.agents.query import DeltaEvent, DoneEvent, PlanEvent, Query, QueryEvent, QueryPlan, QueryResult
from inferstack.agents.relevance import RelevanceGrade, similarity_score
from inferstack.agents.routing import Route
from inferstack.agents.sessions import SessionStore, Turn
from inferstack.agents.toolset import ToolServices, ToolTrace, build_tools
from inferstack.agents.web_search import WebSearchResult
from inferstack.core.errors import InferstackError

log = logging.getLogger(__name__)

_MODEL_ERRORS = (openai.APIError, ModelThrottledException, ContextWindowOverflowException)


def seed_messages(history: Sequence[Turn]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for turn in history:
        messages.append({"role": "user", "content": [{"text": turn.question}]})
        messages.append({"role": "assistant", "content": [{"text": turn.answer}]})
    return messages


def _last_assistant_text(messages: Sequence[Any]) -> str:
    for message in reversed(messages):
        if message.get("role") == "assistant":
            return "".join(block.get("text", "") for block in message.get("content", []) if isinstance(block, dict))
    return ""


def route_from_trace(trace: ToolTrace, threshold: float) -> Route:
    relevance = trace.relevance if trace.relevance is not None else similarity_score(trace.hits)
    used_knowledge = bool(trace.hits) and relevance >= threshold
    used_web = bool(trace.web_results)
    if used_knowledge and used_web:
        return Route.HYBRID
    if used_knowledge:
        return Route.KNOWLEDGE
    return Route.WEB if used_web else Route.NONE


class AgenticRunner:
    def __init__(self, *, chat: ChatModel, services: ToolServices, sessions: SessionStore, max_turns: int) -> None:
        self.chat = chat
        self.services = services
        self.sessions = sessions
        self.max_turns = max_turns

    async def stream(self, query: Query) -> AsyncGenerator[QueryEvent, None]:
        started = time.perf_counter()
        trace = ToolTrace()
        agent = Agent(
            model=self.chat.strands_model(),
            messages=seed_messages(await self.sessions.history(query.session_id)),  # type: ignore[arg-type]
            tools=build_tools(self.services, trace),
            system_prompt=render("agentic_system"),
            callback_handler=None,
            retry_strategy=None,
        )
        warnings: list[str] = []
        try:
            result = await agent.invoke_async(
                query.question, limits={"turns": self.max_turns}, cancel_signal=trace.cancel
            )
            answer = str(result).strip()
        except MaxTokensReachedException:
            answer = _last_assistant_text(agent.messages).strip()
            warnings.append("the answer was cut at max_tokens")
        except EventLoopException as exc:
            raise self._translate(exc.original_exception) from None
        except _MODEL_ERRORS as exc:
            raise upstream_error(exc, self.chat.base_url) from None
        if trace.fatal is not None:
            raise trace.fatal
        answer = clean_answer(answer) or render("unusable_answer")

        route = route_from_trace(trace, self.services.relevance_threshold)
        similarity = similarity_score(trace.hits)
        relevance = trace.relevance if trace.relevance is not None else similarity
        grade = RelevanceGrade(
            score=relevance,
            similarity=similarity,
            precision=None,
            method="agentic:check_chunks_relevance" if trace.relevance is not None else "agentic:similarity",
        )
        web = WebSearchResult(query=query.question, answer=None, results=tuple(trace.web_results))

        sources = [
            *(knowledge_sources(trace.hits) if route in (Route.KNOWLEDGE, Route.HYBRID) else []),
            *(web_sources(web) if route in (Route.WEB, Route.HYBRID) else []),
        ]
        plan = QueryPlan(
            route=route,
            sources=tuple(sources),
            relevance=grade if trace.hits or trace.relevance is not None else None,
            session_id=query.session_id,
            time_sensitive=None,
            warnings=tuple([*trace.warnings, *warnings]),
        )
        yield PlanEvent(plan)
        yield DeltaEvent(answer)
        await self.sessions.record(query.session_id, query.question, answer, route.value)
        total_ms = round((time.perf_counter() - started) * 1000.0, 1)
        timings = {"retrieval_ms": 0.0, "grading_ms": 0.0, "web_search_ms": 0.0, "generation_ms": total_ms}
        yield DoneEvent(QueryResult(answer=answer, plan=plan, timings={**timings, "total_ms": total_ms}))

    def _translate(self, exc: BaseException) -> InferstackError:
        if isinstance(exc, InferstackError):
            return exc
        if isinstance(exc, _MODEL_ERRORS):
            return upstream_error(exc, self.chat.base_url)
        log.error("agentic run failed: %s: %s", type(exc).__name__, exc)
        return upstream_error(exc, self.chat.base_url)
