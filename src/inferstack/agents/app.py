"""Assemble the agent API: services from settings and injected dependencies, routes, error handling, middleware.

`AgentDependencies` carries what comes from the `knowledge` section (vector store, embedder, ingest function),
so tests can inject an in-memory store and a fake embedder while the CLI builds the real ones.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
from fastapi import FastAPI
from starlette.types import ASGIApp

from inferstack.agents import routes
from inferstack.agents.agentic import AgenticRunner
from inferstack.agents.answer_prompt import AnswerLimits
from inferstack.agents.answerability import AnswerabilityGrader
from inferstack.agents.chat_model import ChatModel
from inferstack.agents.health import HealthProbe
from inferstack.agents.ingest_jobs import IngestFunction, IngestJobs
from inferstack.agents.judge import LlmContextPrecisionJudge
from inferstack.agents.knowledge import KnowledgeBase, RetrievalConfig
from inferstack.agents.mcp_tools import McpToolClient
from inferstack.agents.metrics import AgentMetrics
from inferstack.agents.output_files import OutputFiles
from inferstack.agents.relevance import AnswerGate, RelevanceGrader
from inferstack.agents.reports import ReportLimits, ReportWriter
from inferstack.agents.routing import Thresholds
from inferstack.agents.service import QueryDefaults, QueryService, QueryStrategy
from inferstack.agents.sessions import SessionStore, build_session_store
from inferstack.agents.settings import AgentSettings
from inferstack.agents.state import AgentState
from inferstack.agents.supervisor import SupervisorAgent
from inferstack.agents.time_sensitivity import TimeSensitivityDetector
from inferstack.agents.toolset import ToolServices
from inferstack.agents.tracing import traced_strategy
from inferstack.agents.weather_route import WeatherRoute
from inferstack.agents.web_search import WebSearch, WebSearcher
from inferstack.http.service_app import service_app
from inferstack.retrieval.embedders.base import Embedder
from inferstack.retrieval.stores.base import VectorStore

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/health", "/metrics")


async def _nothing() -> None:
    return None


@dataclass
class AgentDependencies:
    """What the agent gets from the knowledge configuration; `close` releases anything else they hold."""

    store: VectorStore
    embedder: Embedder
    ingest: IngestFunction
    default_ingest_roots: tuple[Path, ...] = ()
    summary: dict[str, Any] = field(default_factory=dict)
    last_updated: dt.datetime | None = None
    close: Callable[[], Awaitable[None]] = _nothing


def config_summary(settings: AgentSettings, knowledge: dict[str, Any]) -> dict[str, Any]:
    """The configuration worth showing on GET /status: no keys, only whether they are set."""
    return {
        "mode": settings.mode,
        "model": settings.model,
        "model_base_url": settings.model_base_url,
        "upstream_api_key_set": settings.api_key is not None,
        "server_api_key_required": settings.server_api_key is not None,
        "top_k": settings.top_k,
        "max_tokens": settings.max_tokens,
        "relevance": settings.relevance.model_dump(),
        "retrieval": settings.retrieval.model_dump(),
        "answer_style": settings.answer_style,
        "session_turns": settings.session_turns,
        "max_sessions": settings.max_sessions,
        "session_store": settings.session_store.backend,
        "web_search_url": settings.web_search_url or None,
        "filesystem_url": settings.filesystem_url or None,
        "output_dir": str(settings.output_dir),
        "knowledge": knowledge,
    }


def _mcp_clients(settings: AgentSettings) -> dict[str, McpToolClient]:
    clients: dict[str, McpToolClient] = {}
    timeouts = settings.timeouts
    servers = (
        ("web_search", settings.web_search_url),
        ("filesystem", settings.filesystem_url),
        ("weather", settings.weather_url),
    )
    for name, url in servers:
        if url:
            clients[name] = McpToolClient(url, name=name, timeout_s=timeouts.tool_s, health_timeout_s=timeouts.health_s)
    return clients


def _weather_first(
    settings: AgentSettings, strategy: QueryStrategy, mcp: dict[str, McpToolClient], sessions: SessionStore
) -> QueryStrategy:
    """Supervisor mode answers weather questions from the weather tool first (agentic mode offers it as a tool)."""
    if settings.mode == "agentic" or "weather" not in mcp:
        return strategy
    return WeatherRoute(strategy, mcp["weather"], sessions)


def _strategy(
    settings: AgentSettings,
    chat: ChatModel,
    knowledge: KnowledgeBase,
    sessions: SessionStore,
    mcp: dict[str, McpToolClient],
    web: WebSearcher | None,
) -> QueryStrategy:
    if web is None and "web_search" in mcp:
        web = WebSearch(mcp["web_search"])
    relevance = settings.relevance
    if settings.mode == "agentic":
        files = OutputFiles(mcp["filesystem"]) if "filesystem" in mcp else None
        services = ToolServices(
            knowledge=knowledge,
            relevance_threshold=relevance.threshold,
            max_context_chars=settings.max_context_chars,
            web=web,
            files=files,
            weather=mcp.get("weather"),
        )
        return AgenticRunner(chat=chat, services=services, sessions=sessions, max_turns=settings.agentic_max_turns)
    judge = (
        LlmContextPrecisionJudge(chat, max_chunk_chars=settings.max_context_chars) if relevance.judge == "llm" else None
    )
    answerability = (
        AnswerabilityGrader(
            knowledge.embedder,
            min_score=relevance.min_answer_score,
            cosine_weight=relevance.evidence_cosine_weight,
            record_min_similarity=relevance.threshold,
        )
        if relevance.answerability == "evidence"
        else None
    )
    return SupervisorAgent(
        chat=chat,
        knowledge=knowledge,
        grader=RelevanceGrader(
            judge,
            judge_weight=relevance.judge_weight,
            judge_chunks=relevance.judge_chunks,
            answerability=answerability,
            gate=AnswerGate(relevant=relevance.threshold, hybrid=relevance.hybrid_threshold),
            idf=knowledge.idf,
        ),
        answer_style=settings.answer_style,
        detector=TimeSensitivityDetector(settings.time_sensitive_terms),
        sessions=sessions,
        thresholds=Thresholds(relevant=relevance.threshold, hybrid=relevance.hybrid_threshold),
        limits=AnswerLimits(
            passage_chars=settings.max_context_chars,
            context_chars=settings.context_chars,
            history_chars=settings.history_chars,
        ),
        web=web,
    )


def build_app(
    settings: AgentSettings,
    deps: AgentDependencies,
    *,
    chat_client: openai.AsyncOpenAI | None = None,
    web: WebSearcher | None = None,
) -> ASGIApp:
    """The agent ASGI app; `web` replaces the web-search MCP client (any `WebSearcher`)."""
    metrics = AgentMetrics()
    chat = ChatModel(settings, chat_client)
    retrieval = settings.retrieval
    knowledge = KnowledgeBase(
        deps.store,
        deps.embedder,
        last_updated=deps.last_updated,
        retrieval=RetrievalConfig(
            mode=retrieval.mode,
            candidates=retrieval.candidates,
            rrf_k=retrieval.rrf_k,
            lexical_weight=retrieval.lexical_weight,
        ),
    )
    sessions = build_session_store(settings)
    metrics.bounded_limit.labels("sessions").set(settings.max_sessions)
    mcp = _mcp_clients(settings)
    service = QueryService(
        traced_strategy(
            _weather_first(settings, _strategy(settings, chat, knowledge, sessions, mcp, web), mcp, sessions),
            settings.mode,
        ),
        sessions,
        metrics,
        QueryDefaults(top_k=settings.top_k, timeout_s=settings.timeouts.query_s),
    )
    jobs = IngestJobs(deps.ingest, metrics, max_jobs=settings.max_ingest_jobs, on_success=knowledge.mark_updated)
    http = httpx.AsyncClient()
    upstream_key = settings.api_key.get_secret_value() if settings.api_key else None
    health = HealthProbe(
        http=http,
        models_url=settings.model_base_url,
        api_key=upstream_key,
        store=deps.store,
        mcp_servers=mcp,
        timeout_s=settings.timeouts.health_s,
    )
    state = AgentState(
        service=service,
        sessions=sessions,
        knowledge=knowledge,
        jobs=jobs,
        health=health,
        metrics=metrics,
        ingest_roots=tuple(settings.ingest_roots) or deps.default_ingest_roots,
        summary=config_summary(settings, deps.summary),
        owner_key=settings.owner_key.get_secret_value() if settings.owner_key is not None else None,
        embed_paths=(settings.embed_path,) if settings.embed_path is not None else deps.default_ingest_roots,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.info("agent ready: mode=%s model=%s at %s", settings.mode, settings.model, settings.model_base_url)
        try:
            yield
        finally:
            await jobs.close()
            await chat.close()
            await http.aclose()
            await deps.embedder.close()
            await deps.store.close()
            await sessions.close()
            await deps.close()

    reports = ReportWriter(
        chat=chat,
        knowledge=knowledge,
        files=OutputFiles(mcp["filesystem"]) if "filesystem" in mcp else None,
        limits=ReportLimits(settings.report_max_iterations, settings.report_time_limit_s),
    )
    return service_app(
        "inferstack agent",
        lifespan=lifespan,
        state={"agent": state, "reports": reports},
        routers=[routes.router],
        route_paths=routes.ROUTE_PATHS,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        api_key=settings.server_api_key,
        public_paths=PUBLIC_PATHS,
    )
