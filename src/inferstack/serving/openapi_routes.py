"""The OpenAPI description of the model server's routes whose JSON body FastAPI never sees: the generation
routes `fast_path.GenerationFastPath` serves before FastAPI, and `/v1/embeddings`, which parses its raw body."""

from __future__ import annotations

from inferstack.http.openapi import BareRoute
from inferstack.openai_api.chat import ChatCompletionRequest
from inferstack.openai_api.completions import CompletionRequest
from inferstack.openai_api.embeddings import EmbeddingRequest
from inferstack.openai_api.responses import ResponsesRequest

GENERATION_OPENAPI_ROUTES = (
    BareRoute("/v1/chat/completions", "Chat completion", ChatCompletionRequest, streams=True),
    BareRoute("/v1/completions", "Text completion", CompletionRequest, streams=True),
    BareRoute("/v1/responses", "Responses API (on the chat path)", ResponsesRequest, streams=True),
    BareRoute("/v1/embeddings", "Embeddings", EmbeddingRequest),
)
