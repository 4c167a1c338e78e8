"""The supervisor: orchestration enforced in code — detect, retrieve, grade, route, then one plain completion.

    time-sensitive? --yes--> web search --unavailable--> (continue with the knowledge base)
    retrieve -> grade relevance -> route (knowledge | hybrid | web | none) -> answer with the chosen context

Sources come from retrieval and web results, never from the model's text. A web-search failure is reported as
a warning and routing carries on without it; model and vector-store failures escape as inferstack errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any

from inferstack.agents.answer_cleanup import AnswerCleaner, leading_sentences
from inferstack.agents.answer_prompt import (
    SECOND_EVIDENCE_MARGIN,
    AnswerLimits,
    PromptContext,
    answer_evidence,
    build_context,
    extractive_answer,
    history_messages,
    knowledge_sources,
    retrieval_query,
    retrieved_entries,
    seen_evidence,
    web_sources,
)
from inferstack.agents.chat_model import ChatMessage, ChatModel
from inferstack.agents.evidence import Evidence
from inferstack.agents.knowledge import KnowledgeBase
from inferstack.agents.mcp_tools import ToolCallError, ToolUnavailableError
from inferstack.agents.prompt_templates import render
from inferstack.agents.query import (
    DeltaEvent,
    DoneEvent,
    PlanEvent,
    Query,
    QueryEvent,
    QueryPlan,
    QueryResult,
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
PASSAGE_EXCERPT_CHARS = 300


class SupervisorAgent:
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
        answer_style: str = "generative",
    ) -> None:
        self.chat = chat
        self.knowledge = knowledge
        self.grader = grader
        self.detector = detector
        self.sessions = sessions
        self.thresholds = thresholds
        self.limits = limits
        self.web = web
        self.answer_style = answer_style

    async def stream(self, query: Query) -> AsyncGenerator[QueryEvent, None]:
        clock = StageClock()
        history = await self.sessions.history(query.session_id)
        plan, context = await self._plan(query, history, clock)
        yield PlanEvent(plan, clock.as_dict())

        parts: list[str] = []
        if plan.route is Route.NONE:
            text = self._not_found(query, plan)
            parts.append(text)
            yield DeltaEvent(text)
        elif plan.answer_style == "extractive":
            started = time.perf_counter()
            text = extractive_answer(plan.evidence)
            clock.mark_first_token(started)
            clock.add("generation", started)  # composing the answer from its evidence (no model call)
            parts.append(text)
            yield DeltaEvent(text)
        else:
            started = time.perf_counter()
            messages = [
                *history_messages(history, self.limits.history_chars),
                ChatMessage("user", render("answer_user", context=context.text, question=query.question)),
            ]
            cleaner = AnswerCleaner()
            async with aclosing(self.chat.stream_text(messages, render("answer_system"))) as deltas:
                async for delta in deltas:
                    clock.mark_first_token(started)
                    if text := cleaner.feed(delta):
                        parts.append(text)
                        yield DeltaEvent(text)
                    if cleaner.stopped:  # leaving the loop closes the upstream stream: generation stops
                        log.info("answer cut short: %s", cleaner.reason)
                        break
            if text := cleaner.finish():
                parts.append(text)
                yield DeltaEvent(text)
            if not cleaner.text.strip():
                text = self._unusable_answer(context)
                parts.append(text)
                yield DeltaEvent(text)
            clock.add("generation", started)

        answer = "".join(parts).strip()
        await self.sessions.record(query.session_id, query.question, answer, plan.route.value)
        yield DoneEvent(QueryResult(answer=answer, plan=plan, timings=clock.as_dict()))

    async def _plan(self, query: Query, history: Sequence[Turn], clock: StageClock) -> tuple[QueryPlan, PromptContext]:
        warnings: list[str] = []
        sensitivity = self.detector.detect(query.question)
        allow_web = web_allowed(configured=self.web is not None, requested=query.use_web_search)
        hits: list[SearchHit] = []
        retrieved: tuple[dict[str, Any], ...] = ()
        grade: RelevanceGrade | None = None
        web: WebSearchResult | None = None

        route = route_before_retrieval(time_sensitive=sensitivity.time_sensitive, web_allowed=allow_web)
        if route is Route.WEB:
            web = await self._search_web(query.question, clock, warnings)
            if web is None:
                allow_web, route = False, None
        if route is None:
            started = time.perf_counter()
            searched = retrieval_query(query.question, history)  # a follow-up carries the question it refers to
            retrieval = await self.knowledge.retrieve([searched], query.top_k)
            hits, retrieved = retrieval.hits, retrieved_entries(retrieval)
            clock.add("retrieval", started)
            started = time.perf_counter()
            grade = await self.grader.grade(searched, hits)
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
        context = build_context(hits, web, self.limits)
        style, evidence, used = self._evidence(route, grade, context)
        sources = [*knowledge_sources(hits, used), *(web_sources(web, context.urls) if web else [])]
        plan = QueryPlan(
            route=route,
            sources=tuple(sources),
            relevance=grade,
            session_id=query.session_id,
            time_sensitive=sensitivity.matched,
            warnings=tuple(warnings),
            retrieved=retrieved,
            evidence=evidence,
            answer_style=style,
        )
        return plan, context

    def _evidence(
        self, route: Route, grade: RelevanceGrade | None, context: PromptContext
    ) -> tuple[str | None, tuple[Evidence, ...], frozenset[str]]:
        """(answer style, evidence the answer relies on, chunk ids the answer was built from)."""
        if route is Route.NONE:
            return None, (), context.chunk_ids
        verdict = grade.answerability if grade is not None else None
        if verdict is None or not verdict.evidence:
            return "generative", (), context.chunk_ids
        if route is Route.KNOWLEDGE and self.answer_style == "extractive" and verdict.answerable:
            chosen = answer_evidence(verdict.evidence, verdict.score - SECOND_EVIDENCE_MARGIN)
            return "extractive", chosen, frozenset(unit.chunk_id for unit in chosen)
        return "generative", seen_evidence(verdict.evidence[:2], context.chunk_ids), context.chunk_ids

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

    def _unusable_answer(self, context: PromptContext) -> str:
        """What to say when the model's answer was nothing but prompt scaffolding: that, and the best passage."""
        said = render("unusable_answer")
        if context.lead is None:
            return said
        source, passage = context.lead
        excerpt = leading_sentences(passage, PASSAGE_EXCERPT_CHARS)
        return f"{said} {render('best_passage', source=source, passage=excerpt)}"

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
