"""OpenAI-compatible endpoints. The three proxy routes are plain Starlette endpoints (no body model):
the proxy parses the JSON once itself, which keeps the hot path short."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from starlette.responses import Response, StreamingResponse

from inferstack.gateway.proxy import ProxyReply, ProxyService, ProxyStream
from inferstack.http.responses import json_response


def _send(result: ProxyReply | ProxyStream) -> Response:
    if isinstance(result, ProxyReply):
        return Response(result.body, status_code=result.status, headers=result.headers, media_type="application/json")
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **result.headers}
    return StreamingResponse(result.events, media_type="text/event-stream", headers=headers)


def _proxy_endpoint(route: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        service: ProxyService = request.app.state.proxy
        result = await service.handle(route, await request.body(), request.headers.get("authorization"))
        return _send(result)

    endpoint.__name__ = f"proxy_{route}"
    return endpoint


async def list_models(request: Request) -> Response:
    service: ProxyService = request.app.state.proxy
    key = await service.registry.authenticate(request.headers.get("authorization"))
    models = [m for m in service.router.models if key.is_master or key.record.allows_model(m)]
    data = [{"id": m, "object": "model", "created": 0, "owned_by": "inferstack"} for m in models]
    return json_response({"object": "list", "data": data})


def register_openai_routes(app: FastAPI) -> None:
    for prefix in ("/v1", ""):
        app.add_route(f"{prefix}/chat/completions", _proxy_endpoint("chat"), methods=["POST"])
        app.add_route(f"{prefix}/completions", _proxy_endpoint("completions"), methods=["POST"])
        app.add_route(f"{prefix}/embeddings", _proxy_endpoint("embeddings"), methods=["POST"])
        app.add_route(f"{prefix}/models", list_models, methods=["GET"])
