"""OpenAI-compatible endpoints served by FastAPI. The three proxy routes (chat, completions, embeddings) are
served by `fast_path.ProxyFastPath` in front of the app, so only `/models` lives here."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from inferstack.gateway.proxy import ProxyService
from inferstack.http.responses import json_response


async def list_models(request: Request) -> Response:
    service: ProxyService = request.app.state.proxy
    key = await service.registry.authenticate(request.headers.get("authorization"))
    models = [m for m in service.router.models if key.is_master or key.record.allows_model(m)]
    data = [{"id": m, "object": "model", "created": 0, "owned_by": "inferstack"} for m in models]
    return json_response({"object": "list", "data": data})


def register_openai_routes(app: FastAPI) -> None:
    for prefix in ("/v1", ""):
        app.add_route(f"{prefix}/models", list_models, methods=["GET"])
