"""OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

from typing import Any

from inferstack.core.errors import InferstackError


def error_body(message: str, error_type: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error_body_for(exc: InferstackError) -> dict[str, Any]:
    return error_body(exc.message, exc.error_type, param=exc.param, code=exc.code)
