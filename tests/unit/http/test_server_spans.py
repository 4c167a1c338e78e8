"""The SERVER spans of `TraceContext` around a real FastAPI app: named by route template, no favicon, and job
polls traced only as part of a caller's trace."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from inferstack.http.tracing import TraceContext
from inferstack.observability.trace_store import StoredSpan, from_readable
from tests.support.span_capture import captured_spans


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    with captured_spans() as capture:
        yield capture


def _app() -> FastAPI:
    """Routes shaped like the agent's, idp's and the gateway's (an APIRouter, a starlette route with a `:path`
    convertor and a mounted app)."""
    app = FastAPI()
    router = APIRouter()

    @router.get("/ingest/{job_id}")
    async def job(job_id: str) -> dict[str, str]:
        return {"id": job_id}

    @router.delete("/ingest/{job_id}")
    async def cancel(job_id: str) -> dict[str, str]:
        return {"cancelled": job_id}

    @router.get("/v1/documents/{job_id}")
    async def document(job_id: str) -> dict[str, str]:
        return {"id": job_id}

    @router.get("/status")
    async def status() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(status_code=404)

    @router.get("/boom/{item}")
    async def boom(item: str) -> dict[str, str]:
        raise RuntimeError(item)

    async def model(request: Request) -> Response:
        return JSONResponse({"id": request.path_params["model_id"]})

    app.include_router(router)
    app.add_route("/v1/models/{model_id:path}", model, methods=["GET"])
    console = FastAPI()

    @console.get("/api/knowledge/jobs/{job_id}")
    async def console_job(job_id: str) -> dict[str, str]:
        return {"id": job_id}

    app.mount("/ui", console)
    return app


def _get(method: str, path: str, headers: dict[str, str] | None = None) -> int:
    async def go() -> int:
        transport = httpx.ASGITransport(app=TraceContext(_app()), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc.test") as client:
            return (await client.request(method, path, headers=headers)).status_code

    return asyncio.run(go())


def _spans(exporter: InMemorySpanExporter) -> list[StoredSpan]:
    return [from_readable(s) for s in exporter.get_finished_spans()]


def test_server_spans_are_named_by_route_template(exporter: InMemorySpanExporter) -> None:
    traceparent = {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"}
    assert _get("GET", "/ingest/ingest-3f2a9c", traceparent) == 200
    assert _get("GET", "/v1/models/org/model.gguf") == 200
    assert _get("GET", "/ui/api/knowledge/jobs/ingest-77", traceparent) == 200
    assert _get("GET", "/nowhere/abc") == 404  # no route: the raw path is all there is
    assert _get("GET", "/boom/x1") == 500  # the app raised before it started a response
    spans = _spans(exporter)
    assert [s.name for s in spans] == [
        "GET /ingest/{job_id}",
        "GET /v1/models/{model_id}",
        "GET /ui/api/knowledge/jobs/{job_id}",
        "GET /nowhere/abc",
        "GET /boom/{item}",
    ]
    assert spans[0].attributes["http.route"] == "/ingest/{job_id}"
    assert spans[0].attributes["url.path"] == "/ingest/ingest-3f2a9c"  # the raw path stays an attribute
    assert "http.route" not in spans[3].attributes
    assert spans[4].status == "ERROR" and spans[4].attributes["http.response.status_code"] == 500


def test_favicon_is_never_traced(exporter: InMemorySpanExporter) -> None:
    traceparent = {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"}
    assert _get("GET", "/favicon.ico") == 404
    assert _get("GET", "/favicon.ico", traceparent) == 404
    assert _spans(exporter) == []


def test_job_polls_are_traced_only_inside_a_callers_trace(exporter: InMemorySpanExporter) -> None:
    for path in ("/ingest/ingest-1", "/v1/documents/doc-1", "/status", "/ui/api/knowledge/jobs/ingest-1"):
        assert _get("GET", path) == 200
    assert _spans(exporter) == [], "a poll without a trace context is not a trace of its own"
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    traceparent = {"traceparent": f"00-{trace_id}-{parent_id}-01"}
    for path in ("/ingest/ingest-1", "/v1/documents/doc-1", "/status"):
        assert _get("GET", path, traceparent) == 200
    spans = _spans(exporter)
    assert [s.name for s in spans] == ["GET /ingest/{job_id}", "GET /v1/documents/{job_id}", "GET /status"]
    assert all(s.trace_id == trace_id and s.parent_id == parent_id for s in spans)


def test_other_methods_on_a_poll_path_are_traced(exporter: InMemorySpanExporter) -> None:
    assert _get("DELETE", "/ingest/ingest-2") == 200
    assert [s.name for s in _spans(exporter)] == ["DELETE /ingest/{job_id}"]
