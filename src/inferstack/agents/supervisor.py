"""The supervisor: orchestration enforced in code — detect, retrieve, grade, route, then one plain completion.

    time-sensitive? --yes--> web search --unavailable--> (continue with the knowledge base)
    retrieve -> grade relevance -> route (knowledge | hybrid | web | none) -> answer with the chosen context

Sources come from retrieval and web results, never from the model's text. A web-search failure is reported as
a warning and routing carries on without it; model and vector-store failures escape as inferstack errors.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from inferstack.agents.chat_model import ChatMessage, ChatModel
from inferstack.agents.knowledge import KnowledgeBase
from inferstack.agents.mcp_tools import ToolCallError, ToolUnavailableError
from inferstack.agents.prompt_templates import render
from inferstack.agents.query import (
    SNIPPET_CHARS,
    DeltaEvent,
    DoneEvent,
    PlanEvent,
    Query,
    QueryEvent,
    QueryPlan,
    QueryResult,
    Source,
    StageClock,
)
from inferstack.agents.relevance import RelevanceGrade, RelevanceGrader
from inferstack.agents.routing import (
    Route,
    Thresholds,
    route_after_grading,
    route_before_retrieval,
    route_without_web,
    web_allowed,
)
from inferstack.agents.sessions import SessionStore, Turn
from inferstack.agents.time_sensitivity import TimeSensitivityDetector
from inferstack.agents.web_search import WebSearcher, WebSearchResult
from inferstack.retrieval.stores.base import SearchHit

log = logging.getLogger(__name__)

WEB_RESULTS = 5


@dataclass(frozen=True)
class AnswerLimits:
    max_context_chars: int
    history_chars: int = 2000


def knowledge_sources(hits: Sequence[SearchHit]) -> list[Source]:
    return [
        Source(
            kind="knowledge",
            source=hit.source,
            snippet=hit.text[:SNIPPET_CHARS],
            score=round(hit.score, 4),
            chunk_id=hit.id,
            metadata=dict(hit.metadata),
        )
        for hit in hits
    ]


def web_sources(web: WebSearchResult) -> list[Source]:
    return [
        Source(
            kind="web", source=result.url or result.title, snippet=result.content[:SNIPPET_CHARS], score=result.score
        )
        for result in web.results
    ]


def context_block(hits: Sequence[SearchHit], web: WebSearchResult | None, max_chars: int) -> str:
    """Numbered passages, knowledge first, each cut to `max_chars` (the model's budget, not the sources')."""
    lines: list[str] = []
    for hit in hits:
        lines.append(f"[{len(lines) + 1}] ({hit.source}) {hit.text[:max_chars]}")
    if web is not None:
        if web.answer:
            lines.append(f"[{len(lines) + 1}] (web summary) {web.answer[:max_chars]}")
        for result in web.results:
            lines.append(f"[{len(lines) + 1}] ({result.url}) {result.title}: {result.content[:max_chars]}")
    return "\n".join(lines)


def history_messages(history: Sequence[Turn], budget_chars: int) -> list[ChatMessage]:
    """The most recent turns that fit in `budget_chars`, oldest first, as user/assistant messages."""
    kept: list[Turn] = []
    used = 0
    for turn in reversed(history):
        used += len(turn.question) + len(turn.answer)
        if used > budget_chars:
            break
        kept.append(turn)
    messages: list[ChatMessage] = []
    for turn in reversed(kept):
        messages += [ChatMessage("user", turn.question), ChatMessage("assistant", turn.answer)]
    return messages


_REFERRING_WORDS = frozenset(
    [
        "it",
        "its",
        "that",
        "this",
        "these",
        "those",
        "they",
        "them",
        "their",
        "he",
        "she",
        "his",
        "her",
        "more",
        "else",
        "also",
        "same",
        "above",
        "previous",
    ]
)
FOLLOW_UP_MAX_WORDS = 12


def is_follow_up(question: str) -> bool:
    """A short question that refers back ("tell me more about that") rather than naming its subject."""
    words = re.findall(r"[a-z']+", question.lower())
    return len(words) <= FOLLOW_UP_MAX_WORDS and any(word in _REFERRING_WORDS for word in words)


def retrieval_query(question: str, history: Sequence[Turn]) -> str:
    """The question; a follow-up is searched together with the session's previous question it refers to."""
    if history and is_follow_up(question):
        return f"{history[-1].question} {question}"
    return question


class Supervisor:
    def __init__(
        self,
        *,
        chat: ChatModel,
        knowledge: KnowledgeBase,
        grader: RelevanceGrader,
        detector: TimeSensitivityDetector,
        sessions: SessionStore,
        thresholds: Thresholds,
        limits: AnswerLimits,
        web: WebSearcher | None = None,
    ) -> None:
        self.chat = chat
        self.knowledge = knowledge
        self.grader = grader
        self.detector = detector
        self.sessions = sessions
        self.thresholds = thresholds
        self.limits = limits
        self.web = web

    async def stream(self, query: Query) -> AsyncGenerator[QueryEvent, None]:
        clock = StageClock()
        history = self.sessions.history(query.session_id)
        plan, hits, web = await self._plan(query, history, clock)
        yield PlanEvent(plan, clock.as_dict())

        parts: list[str] = []
        if plan.route is Route.NONE:
            text = self._not_found(query, plan)
            parts.append(text)
            yield DeltaEvent(text)
        else:
            started = time.perf_counter()
            context = context_block(hits, web, self.limits.max_context_chars)
            messages = [
                *history_messages(history, self.limits.history_chars),
                ChatMessage("user", render("answer_user", context=context, question=query.question)),
            ]
            async with aclosing(self.chat.stream_text(messages, render("answer_system"))) as deltas:
                async for delta in deltas:
                    clock.mark_first_token(started)
                    parts.append(delta)
                    yield DeltaEvent(delta)
            clock.add("generation", started)

        answer = "".join(parts).strip()
        self.sessions.record(query.session_id, query.question, answer, plan.route.value)
        yield DoneEvent(QueryResult(answer=answer, plan=plan, timings=clock.as_dict()))

    async def _plan(
        self, query: Query, history: Sequence[Turn], clock: StageClock
    ) -> tuple[QueryPlan, list[SearchHit], WebSearchResult | None]:
        warnings: list[str] = []
        sensitivity = self.detector.detect(query.question)
        allow_web = web_allowed(configured=self.web is not None, requested=query.use_web_search)
        hits: list[SearchHit] = []
        grade: RelevanceGrade | None = None
        web: WebSearchResult | None = None

        route = route_before_retrieval(time_sensitive=sensitivity.time_sensitive, web_allowed=allow_web)
        if route is Route.WEB:
            web = await self._search_web(query.question, clock, warnings)
            if web is None:
                allow_web, route = False, None
        if route is None:
            started = time.perf_counter()
            hits = await self.knowledge.search([retrieval_query(query.question, history)], query.top_k)
            clock.add("retrieval", started)
            started = time.perf_counter()
            grade = await self.grader.grade(query.question, hits)
            clock.add("grading", started)
            route = route_after_grading(
                grade.score, self.thresholds, web_allowed=allow_web, web_requested=query.use_web_search
            )
            if route in (Route.WEB, Route.HYBRID):
                web = await self._search_web(query.question, clock, warnings)
                if web is None:
                    route = route_without_web(route, grade.score, self.thresholds)

        if route is Route.WEB:
            hits = []
        if route is Route.KNOWLEDGE or route is Route.NONE:
            web = None
        if route is Route.NONE:
            hits = []
        sources = [*knowledge_sources(hits), *(web_sources(web) if web else [])]
        plan = QueryPlan(
            route=route,
            sources=tuple(sources),
            relevance=grade,
            session_id=query.session_id,
            time_sensitive=sensitivity.matched,
            warnings=tuple(warnings),
        )
        return plan, hits, web

    async def _search_web(self, question: str, clock: StageClock, warnings: list[str]) -> WebSearchResult | None:
        """Web results, or None (with a warning) when the server is down, the tool failed or found nothing."""
        assert self.web is not None
        started = time.perf_counter()
        try:
            result = await self.web.search(question, WEB_RESULTS)
        except (ToolUnavailableError, ToolCallError) as exc:
            warnings.append(f"web search unavailable: {exc.message}")
            return None
        finally:
            clock.add("web_search", started)
        if not result.results and not result.answer:
            warnings.append("web search found nothing")
            return None
        return result

    def _not_found(self, query: Query, plan: QueryPlan) -> str:
        if self.web is None:
            web_state = "web search is not configured"
        elif query.use_web_search is False:
            web_state = "web search was not requested"
        elif any(warning.startswith("web search found nothing") for warning in plan.warnings):
            web_state = "web search found nothing either"
        elif plan.warnings:
            web_state = "web search is not available right now"
        else:
            web_state = "web search was not used"
        return render("not_found", web_state=web_state)
