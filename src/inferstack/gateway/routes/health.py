"""Liveness, readiness (with the upstream health map and each external dependency) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from inferstack.http.responses import json_response

router = APIRouter()


@router.get("/health/liveliness")
@router.get("/health/liveness")
async def liveness() -> Response:
    return json_response({"status": "alive"})


@router.get("/health/readiness")
@router.get("/health")
async def readiness(request: Request) -> Response:
    state = request.app.state
    if not getattr(state, "started", False):
        return json_response({"status": "starting"}, status_code=503)
    models = state.router.health()
    ready = state.router.ready()
    dependencies = {d.name: d.detail() for d in state.dependencies}
    # Ready with a dependency down is "degraded", still 200: the gateway serves (keys held, no cache), and taking
    # every replica out of a load balancer because their shared database is away would be a total outage.
    degraded = any(not d.up for d in state.dependencies)
    body = {
        "status": ("degraded" if degraded else "ready") if ready else "unhealthy",
        "database": state.key_store.db.dialect,
        "cache": state.cache_description,
        "dependencies": dependencies,
        "usage_rows_pending": state.usage.pending,
        "usage_totals_pending": state.usage.pending_totals,
        "models": models,
    }
    return json_response(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
