"""Translate every failure into OpenAI's error shape, once, at the HTTP boundary."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from inferstack.core.errors import InferstackError
from inferstack.http.responses import json_response
from inferstack.openai_api.errors import error_body, error_body_for

log = logging.getLogger(__name__)

_HTTP_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def error_response(exc: InferstackError) -> Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return json_response(error_body_for(exc), status_code=exc.status_code, headers=headers)


def validation_message(errors: list[Any]) -> tuple[str, str | None]:
    """First pydantic/FastAPI error as (message, dotted param), without echoing the input."""
    if not errors:
        return "invalid request", None
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    # Discriminated unions add the tag to the path (messages.0.user.content): drop the tag.
    param = ".".join(loc) or None
    message = str(first.get("msg", "invalid value"))
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    if first.get("type") == "union_tag_invalid":
        ctx = first.get("ctx", {})
        field_name = str(ctx.get("discriminator", "type")).strip("'")
        param = f"{param}.{field_name}" if param else field_name
        message = f"unknown {field_name} '{ctx.get('tag')}'; expected one of {ctx.get('expected_tags')}"
    return (f"{param}: {message}" if param else message), param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InferstackError)
    async def _inferstack(_: Request, exc: InferstackError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        message, param = validation_message(list(exc.errors()))
        return json_response(error_body(message, "invalid_request_error", param=param), status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> Response:
        error_type = _HTTP_TYPES.get(exc.status_code, "invalid_request_error")
        return json_response(error_body(str(exc.detail), error_type), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return json_response(error_body("internal server error", "server_error"), status_code=500)
