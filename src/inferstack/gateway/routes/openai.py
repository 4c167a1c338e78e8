"""OpenAI-compatible endpoints served by FastAPI. The proxy routes (chat, completions, embeddings, responses)
are served by `fast_path.ProxyFastPath` in front of the app, so only the model routes live here: OpenAI's
`/v1/models` and `/v1/models/{id}`, and LiteLLM's `/model/info`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from inferstack.core.errors import ModelNotFoundError
from inferstack.gateway.credentials import authorization_value
from inferstack.gateway.keys.registry import KeyState
from inferstack.gateway.proxy import ProxyService
from inferstack.gateway.routing.deployment import Deployment
from inferstack.http.responses import json_response


def _model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "inferstack"}


async def _caller(request: Request) -> tuple[ProxyService, KeyState]:
    service: ProxyService = request.app.state.proxy
    key = await service.registry.authenticate(authorization_value(request.headers.get))
    return service, key


def _allowed(key: KeyState, *names: str) -> bool:
    return key.is_master or any(key.record.allows_model(name) for name in names)


async def list_models(request: Request) -> Response:
    service, key = await _caller(request)
    data = [_model_object(m) for m in service.router.models if _allowed(key, m)]
    return json_response({"object": "list", "data": data})


async def retrieve_model(request: Request) -> Response:
    """OpenAI's model object; 404 `model_not_found` for a model that is not served or not allowed to the key
    (the same answer for both, so a key cannot probe for models it may not use)."""
    service, key = await _caller(request)
    model_id: str = request.path_params["model_id"]
    try:
        served_as = service.router.resolve(model_id)
    except ModelNotFoundError:
        served_as = None
    if served_as is None or not _allowed(key, model_id, served_as):
        raise ModelNotFoundError(f"model '{model_id}' does not exist", param="model")
    return json_response(_model_object(model_id))


def _deployment_info(deployment: Deployment) -> dict[str, Any]:
    """LiteLLM's /model/info entry: litellm_params without secrets (the api_key is never shown)."""
    config = deployment.config
    params: dict[str, Any] = {"model": config.model, "api_base": config.api_base}
    for name in ("rpm", "tpm", "max_parallel_requests", "weight"):
        value = getattr(config, name)
        if value is not None:
            params[name] = value
    if config.timeout_s is not None:
        params["timeout"] = config.timeout_s
    info = {
        "id": deployment.id,
        "input_cost_per_token": config.input_cost_per_token,
        "output_cost_per_token": config.output_cost_per_token,
        "guardrails": list(config.guardrails),
        "mode": config.mode,
    }
    return {"model_name": config.model_name, "litellm_params": params, "model_info": info}


async def model_info(request: Request) -> Response:
    """LiteLLM's `/model/info`: every deployment of the models the caller may use (`?litellm_model_id=` for one)."""
    service, key = await _caller(request)
    wanted = request.query_params.get("litellm_model_id")
    data = [
        _deployment_info(d)
        for d in service.router.all_deployments()
        if _allowed(key, d.config.model_name) and (wanted is None or d.id == wanted)
    ]
    return json_response({"data": data})


def register_openai_routes(app: FastAPI) -> None:
    for prefix in ("/v1", ""):
        app.add_route(f"{prefix}/models", list_models, methods=["GET"])
        app.add_route(f"{prefix}/models/{{model_id:path}}", retrieve_model, methods=["GET"])
        app.add_route(f"{prefix}/model/info", model_info, methods=["GET"])
