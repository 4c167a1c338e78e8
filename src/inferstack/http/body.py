"""Parse a JSON request body into a pydantic model, turning every problem into a 400."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from inferstack.core.errors import InvalidRequestError
from inferstack.http.errors import validation_message

M = TypeVar("M", bound=BaseModel)


async def parse_body(request: Request, schema: type[M]) -> M:
    return parse_json_body(await request.body(), schema)


def parse_json_body(raw: bytes, schema: type[M]) -> M:
    """`raw` (a whole request body) as `schema`, or InvalidRequestError naming the first problem."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequestError("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        message, param = validation_message(list(exc.errors(include_input=False)))
        raise InvalidRequestError(message, param=param) from None
