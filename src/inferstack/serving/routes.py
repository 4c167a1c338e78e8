"""Thin HTTP routes of the model server; all work happens in the services on `app.state.server`.

The generation routes (`/v1/chat/completions`, `/v1/completions`) are served by `fast_path.GenerationFastPath`
in front of these; they are listed in ROUTE_PATHS for the request metrics.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from inferstack.http.body import parse_body
from inferstack.http.disconnect import ClientDisconnectedError, until_disconnect
from inferstack.http.responses import json_response
from inferstack.openai_api.embeddings import EmbeddingRequest
from inferstack.openai_api.models import model_card, model_list
from inferstack.serving.fast_path import CLIENT_CLOSED

router = APIRouter()
ROUTE_PATHS = (
    "/health",
    "/metrics",
    "/v1/models",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/responses",
)


def _state(request: Request) -> Any:
    return request.app.state.server


@router.get("/health")
async def health(request: Request) -> Response:
    state = _state(request)
    body: dict[str, Any] = {
        "status": state.status,
        "model": state.engine.info.model_id,
        "engine": state.engine.info.kind,
    }
    if state.embedder is not None:
        body["embedding_model"] = state.embedder.info.model_id
    if state.error:
        body["error"] = state.error
    return json_response(body, status_code=200 if state.status == "ready" else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(_state(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    state = _state(request)
    info = state.engine.info
    cards = [model_card(info.model_id, created=0, context_length=info.context_length, engine=info.kind)]
    if state.embedder is not None:
        emb = state.embedder.info
        cards.append(
            model_card(emb.model_id, created=0, dimension=emb.dimension, max_input_tokens=emb.max_input_tokens)
        )
    return json_response(model_list(cards))


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> Response:
    state = _state(request)
    body = await parse_body(request, EmbeddingRequest)
    model, service = state.embedding_model(body.model)
    try:
        return json_response(await until_disconnect(request, service.embed(body, model)))
    except ClientDisconnectedError:
        return Response(status_code=CLIENT_CLOSED)
