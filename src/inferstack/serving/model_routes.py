"""`GET /v1/models/{id}`: one model card (the chat model or any served name of the embedding model), else 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from inferstack.core.errors import ModelNotFoundError
from inferstack.http.responses import json_response
from inferstack.openai_api.models import model_card

router = APIRouter()


@router.get("/v1/models/{model_id:path}")
async def retrieve_model(request: Request, model_id: str) -> Response:
    state: Any = request.app.state.server
    info = state.engine.info
    if model_id == info.model_id:
        return json_response(model_card(info.model_id, created=0, context_length=info.context_length, engine=info.kind))
    if state.embedder is not None:
        emb = state.embedder.info
        if model_id == emb.model_id or model_id in state.settings.embedding_served_model_name:
            card = model_card(model_id, created=0, dimension=emb.dimension, max_input_tokens=emb.max_input_tokens)
            return json_response(card)
    raise ModelNotFoundError(f"model '{model_id}' is not served here", param="model")
