"""Thin HTTP routes of the agent API; the work happens in the services on `app.state.agent`.

SSE stream of POST /query/stream, one JSON object per event:

    event: route   {route, sources, relevance, relevance_detail, session_id, time_sensitive, warnings}
    event: token   {"delta": "..."}                       (repeated)
    event: done    {answer, route, session_id, timings}
    event: error   {"error": {...}}                       (only if the model fails mid-answer)

POST /embed and the `response`/`status`/`processing_time` fields of /query are the reference app's API shapes
(`reference_api`), served beside ours.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from fastapi import APIRouter, Request
from starlette.responses import Response

from inferstack import __version__
from inferstack.agents.ingest_paths import OWNER_KEY_HEADER
from inferstack.agents.query import DeltaEvent, DoneEvent, PlanEvent, QueryEvent
from inferstack.agents.reference_api import embed_folder, embed_started, reference_query_fields
from inferstack.agents.reports import ReportBody, ReportWriter
from inferstack.agents.schemas import EmbedBody, IngestBody, QueryBody
from inferstack.agents.state import AgentState
from inferstack.core.errors import InferstackError, NotFoundError
from inferstack.http.body import parse_body
from inferstack.http.disconnect import ClientDisconnectedError, until_disconnect
from inferstack.http.responses import EventStreamResponse, json_response
from inferstack.openai_api.errors import error_body_for
from inferstack.openai_api.sse import sse_event

router = APIRouter()
ROUTE_PATHS = (
    "/",
    "/health",
    "/status",
    "/metrics",
    "/query",
    "/query/stream",
    "/ingest",
    "/embed",
    "/knowledge/sources",
    "/v1/reports",
)

_CLIENT_CLOSED = 499


def _state(request: Request) -> AgentState:
    state: AgentState = request.app.state.agent
    return state


@router.get("/")
async def index() -> Response:
    return json_response(
        {
            "service": "inferstack agent",
            "version": __version__,
            "endpoints": [
                "/query",
                "/query/stream",
                "/ingest",
                "/embed",
                "/knowledge/sources",
                "/sessions/{id}",
                "/health",
                "/status",
                "/metrics",
            ],
        }
    )


@router.get("/health")
async def health(request: Request) -> Response:
    state = _state(request)
    report = await state.health.check()
    body = {"status": report.status, "dependencies": report.dependencies}
    return json_response(body, status_code=200 if report.ready else 503)


@router.get("/status")
async def status(request: Request) -> Response:
    state = _state(request)
    knowledge = await state.knowledge.status()
    return json_response(
        {
            "version": __version__,
            "config": state.summary,
            "knowledge": {
                "status": knowledge.status,
                "document_count": knowledge.documents,
                "chunk_count": knowledge.chunks,
                "last_updated": knowledge.last_updated,
            },
            "sessions": len(state.sessions),
            "ingest_running": state.jobs.running,
        }
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(_state(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.post("/query")
async def query(request: Request) -> Response:
    state = _state(request)
    body = await parse_body(request, QueryBody)
    question = state.service.make_query(body.question, body.session_id, body.top_k, body.web_search)
    try:
        result = await until_disconnect(request, state.service.answer(question))
    except ClientDisconnectedError:
        return Response(status_code=_CLIENT_CLOSED)
    return json_response({**result.as_dict(), **reference_query_fields(result)})


@router.post("/query/stream")
async def query_stream(request: Request) -> Response:
    state = _state(request)
    body = await parse_body(request, QueryBody)
    question = state.service.make_query(body.question, body.session_id, body.top_k, body.web_search)
    events = state.service.stream(question)
    # Run up to the first answer token before answering, so retrieval and model failures get real status codes.
    head: list[QueryEvent] = []
    try:
        async for event in events:
            head.append(event)
            if not isinstance(event, PlanEvent):
                break
    except BaseException:
        await events.aclose()
        raise
    return EventStreamResponse(_sse_body(head, events), on_close=events.aclose)


async def _sse_body(head: list[QueryEvent], events: AsyncGenerator[QueryEvent, None]) -> AsyncIterator[bytes]:
    async def all_events() -> AsyncIterator[QueryEvent]:
        for event in head:
            yield event
        async for event in events:
            yield event

    try:
        async for event in all_events():
            if isinstance(event, PlanEvent):
                yield sse_event(event.plan.as_dict(), event="route")
            elif isinstance(event, DeltaEvent):
                yield sse_event({"delta": event.text}, event="token")
            elif isinstance(event, DoneEvent):
                result = event.result
                done = {
                    "answer": result.answer,
                    "route": result.plan.route.value,
                    "session_id": result.plan.session_id,
                    "timings": result.timings,
                }
                yield sse_event(done, event="done")
    except InferstackError as exc:
        yield sse_event(error_body_for(exc), event="error")


@router.post("/ingest")
async def ingest(request: Request) -> Response:
    state = _state(request)
    body = await parse_body(request, IngestBody)
    path = state.ingest_path(body.path, request.headers.get(OWNER_KEY_HEADER))
    job = state.jobs.submit(path, force=body.force)
    return json_response({"job_id": job.id, "status": job.status, "path": job.path}, status_code=202)


@router.post("/embed")
async def embed(request: Request) -> Response:
    """The reference app's POST /embed: ingest the configured knowledge folder in the background."""
    state = _state(request)
    body = await parse_body(request, EmbedBody) if await request.body() else EmbedBody()
    job = state.jobs.submit(embed_folder(state.embed_paths), force=body.force_refresh)
    return json_response(embed_started(job))


@router.get("/ingest/{job_id}")
async def ingest_job(request: Request, job_id: str) -> Response:
    return json_response(_state(request).jobs.get(job_id).as_dict())


@router.delete("/ingest/{job_id}")
async def cancel_ingest_job(request: Request, job_id: str) -> Response:
    return json_response((await _state(request).jobs.cancel(job_id)).as_dict())


@router.get("/knowledge/sources")
async def knowledge_sources(request: Request) -> Response:
    return json_response({"object": "list", "data": await _state(request).jobs.catalog.list_sources()})


@router.delete("/knowledge/sources/{selector:path}")
async def remove_knowledge_source(request: Request, selector: str) -> Response:
    state = _state(request)
    removal = await state.jobs.catalog.remove_sources(selector)
    state.knowledge.mark_updated()
    return json_response(removal)


@router.get("/sessions/{session_id}")
async def session(request: Request, session_id: str) -> Response:
    sessions = _state(request).sessions
    if not await sessions.exists(session_id):
        raise NotFoundError(f"no session '{session_id}'", param="session_id", code="session_not_found")
    turns = [
        {"question": turn.question, "answer": turn.answer, "route": turn.route, "at": turn.at}
        for turn in await sessions.history(session_id)
    ]
    return json_response({"session_id": session_id, "turns": turns})


@router.delete("/sessions/{session_id}")
async def forget_session(request: Request, session_id: str) -> Response:
    if not await _state(request).sessions.forget(session_id):
        raise NotFoundError(f"no session '{session_id}'", param="session_id", code="session_not_found")
    return Response(status_code=204)


@router.post("/v1/reports")
async def write_report(request: Request) -> Response:
    """Answer a question from the knowledge base into a Markdown file in the filesystem sandbox (`reports`)."""
    reports: ReportWriter = request.app.state.reports
    return json_response(await reports.write(await parse_body(request, ReportBody)), status_code=201)
