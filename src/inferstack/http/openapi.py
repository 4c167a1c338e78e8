"""OpenAPI entries for routes served as bare ASGI in front of FastAPI (the proxy and generation fast paths).

FastAPI describes only the routes it serves; a route answered before FastAPI sees the request is missing from
`/openapi.json` unless added here, from the same pydantic wire schemas the route's clients send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

_REF = "#/components/schemas/{model}"
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_ERROR_STATUSES = {
    "400": "Invalid request (the field is named in `param`)",
    "401": "Missing or unknown API key",
    "403": "The key may not use this model or route",
    "404": "Unknown model",
    "413": "Request body over the size limit",
    "429": "A rate limit or budget was reached (`Retry-After` when meaningful)",
    "502": "The upstream answered with something that is not an OpenAI response",
    "503": "No upstream could serve the request (`Retry-After` when meaningful)",
    "504": "The upstream did not answer in time",
}


@dataclass(frozen=True)
class BareRoute:
    """One POST route served in front of FastAPI: its JSON body's schema and what it answers."""

    path: str
    summary: str
    request: type[BaseModel]
    streams: bool = False  # answers `text/event-stream` when the body says `"stream": true`
    extra_fields: dict[str, Any] | None = None  # fields the route accepts beyond the wire schema (JSON Schema)


def document_bare_routes(app: FastAPI, routes: Sequence[BareRoute]) -> None:
    """Add `routes` to the app's `/openapi.json` (built once, on first request, like FastAPI's own)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("OpenAIError", _ERROR_SCHEMA)
        for route in routes:
            schema.setdefault("paths", {})[route.path] = {"post": _operation(route, components)}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operation(route: BareRoute, components: dict[str, Any]) -> dict[str, Any]:
    request_schema = route.request.model_json_schema(ref_template=_REF)
    components.update(request_schema.pop("$defs", {}))
    if route.extra_fields:
        request_schema.setdefault("properties", {}).update(route.extra_fields)
    name = route.request.__name__
    components[name] = request_schema
    success: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if route.streams:
        success["text/event-stream"] = {"schema": {"type": "string"}}
    error = {"application/json": {"schema": {"$ref": _REF.format(model="OpenAIError")}}}
    responses: dict[str, Any] = {
        "200": {"description": "The answer (an SSE stream when `stream` is true)", "content": success}
    }
    responses.update({status: {"description": text, "content": error} for status, text in _ERROR_STATUSES.items()})
    return {
        "summary": route.summary,
        "operationId": f"{name}_{route.path.strip('/').replace('/', '_')}",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=name)}}},
        },
        "responses": responses,
    }
