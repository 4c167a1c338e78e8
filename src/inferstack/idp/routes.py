"""Thin routes of the IDP service; the work is in `DocumentJobs` and `JobStore` on `app.state`."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.responses import Response

from inferstack import __version__
from inferstack.core.errors import InvalidRequestError
from inferstack.http.body import parse_body
from inferstack.http.responses import json_response
from inferstack.idp.document_types import available
from inferstack.idp.jobs import DocumentJobs
from inferstack.idp.metrics import IdpMetrics
from inferstack.idp.store import JobStore
from inferstack.tools.ocr import RapidOcrReader

router = APIRouter()
ROUTE_PATHS = ("/", "/health", "/ready", "/metrics", "/v1/documents", "/v1/review", "/v1/schemas")
DEFAULT_SCHEMA = "birth_certificate"


@dataclass(frozen=True)
class IdpState:
    jobs: DocumentJobs
    store: JobStore
    metrics: IdpMetrics
    ocr: RapidOcrReader


class ReviewBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


def _state(request: Request) -> IdpState:
    state: IdpState = request.app.state.idp
    return state


@router.get("/")
async def index() -> Response:
    endpoints = ["/v1/documents", "/v1/documents/{id}", "/v1/review", "/v1/schemas", "/health", "/ready", "/metrics"]
    return json_response({"service": "inferstack idp", "version": __version__, "endpoints": endpoints})


@router.get("/health")
async def health() -> Response:
    return json_response({"status": "healthy", "service": "idp"})


@router.get("/ready")
async def ready(request: Request) -> Response:
    """Ready once the OCR models are loaded and the job store answers."""
    state = _state(request)
    loaded = state.ocr.loaded
    body = {
        "status": "ready" if loaded else "loading",
        "ocr": loaded,
        "jobs": await asyncio.to_thread(state.store.count),
    }
    return json_response(body, status_code=200 if loaded else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return _state(request).metrics.response()


@router.get("/v1/schemas")
async def schemas() -> Response:
    return json_response({"object": "list", "data": available()})


@router.post("/v1/documents")
async def submit(request: Request) -> Response:
    """multipart/form-data: `file` (PNG, JPEG, TIFF or PDF) and optional `schema`; answers 202 with the job id."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequestError("send the document as multipart/form-data with a 'file' part", param="file")
    state = _state(request)
    async with request.form(max_files=1, max_fields=4) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequestError("missing the 'file' part", param="file")
        schema = form.get("schema") or DEFAULT_SCHEMA
        if not isinstance(schema, str):
            raise InvalidRequestError("'schema' must be a text field", param="schema")
        data = await upload.read()
        filename = (upload.filename or "document")[:200]
    job_id = await state.jobs.submit(data, filename, schema)
    body = {"id": job_id, "object": "document.job", "status": "queued", "schema": schema}
    return json_response(body, status_code=202, headers={"Location": f"/v1/documents/{job_id}"})


@router.get("/v1/documents/{job_id}")
async def document(request: Request, job_id: str) -> Response:
    return json_response(await asyncio.to_thread(_state(request).store.get, job_id))


@router.get("/v1/review")
async def review_queue(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    queue = await asyncio.to_thread(_state(request).store.review_queue, limit)
    return json_response({"object": "list", "data": queue})


async def _decide(request: Request, job_id: str, *, approve: bool) -> Response:
    state = _state(request)
    note = None
    if await request.body():
        note = (await parse_body(request, ReviewBody)).note
    job = await asyncio.to_thread(functools.partial(state.store.decide, job_id, approve=approve, note=note))
    state.metrics.reviews.labels("approved" if approve else "rejected").inc()
    return json_response(job)


@router.post("/v1/review/{job_id}/approve")
async def approve(request: Request, job_id: str) -> Response:
    return await _decide(request, job_id, approve=True)


@router.post("/v1/review/{job_id}/reject")
async def reject(request: Request, job_id: str) -> Response:
    return await _decide(request, job_id, approve=False)
