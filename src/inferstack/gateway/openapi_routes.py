"""The OpenAPI description of the proxy routes that `fast_path.ProxyFastPath` serves in front of FastAPI."""

from __future__ import annotations

from inferstack.http.openapi import BareRoute
from inferstack.openai_api.chat import ChatCompletionRequest
from inferstack.openai_api.completions import CompletionRequest
from inferstack.openai_api.embeddings import EmbeddingRequest

# LiteLLM's per-request `timeout` (seconds for each upstream attempt), accepted beside the OpenAI fields.
_TIMEOUT_FIELD = {"timeout": {"type": "number", "exclusiveMinimum": 0, "description": "Seconds per upstream attempt."}}

PROXY_OPENAPI_ROUTES = (
    BareRoute("/v1/chat/completions", "Chat completion", ChatCompletionRequest, True, _TIMEOUT_FIELD),
    BareRoute("/v1/completions", "Text completion", CompletionRequest, True, _TIMEOUT_FIELD),
    BareRoute("/v1/embeddings", "Embeddings", EmbeddingRequest, False, _TIMEOUT_FIELD),
)
