"""The OpenAPI description of the generation routes that `fast_path.GenerationFastPath` serves before FastAPI."""

from __future__ import annotations

from inferstack.http.openapi import BareRoute
from inferstack.openai_api.chat import ChatCompletionRequest
from inferstack.openai_api.completions import CompletionRequest

GENERATION_OPENAPI_ROUTES = (
    BareRoute("/v1/chat/completions", "Chat completion", ChatCompletionRequest, streams=True),
    BareRoute("/v1/completions", "Text completion", CompletionRequest, streams=True),
)
