"""Embeddings on an `EmbeddingEngine`: every input checked against the model's limit, none truncated."""

from __future__ import annotations

from typing import Any

from inferstack.core.errors import ContextLengthExceededError, InvalidRequestError
from inferstack.observability.serving_metrics import ServingMetrics
from inferstack.openai_api.embeddings import EmbeddingRequest, embedding_list
from inferstack.serving.engines.base import EmbeddingEngine


class EmbeddingService:
    def __init__(self, embedder: EmbeddingEngine, metrics: ServingMetrics) -> None:
        self._embedder = embedder
        self._metrics = metrics

    async def embed(self, request: EmbeddingRequest, model: str) -> dict[str, Any]:
        info = self._embedder.info
        if request.dimensions is not None and request.dimensions != info.dimension:
            raise InvalidRequestError(
                f"this embedding model produces {info.dimension} dimensions and cannot return {request.dimensions}",
                param="dimensions",
            )
        texts = request.texts
        counts = await self._embedder.count_tokens(texts)
        for index, count in enumerate(counts):
            if count > info.max_input_tokens:
                raise ContextLengthExceededError(
                    f"input {index} has {count} tokens; '{info.model_id}' accepts at most "
                    f"{info.max_input_tokens} per input (split it; inputs are never truncated)",
                    param="input",
                )
        vectors = await self._embedder.embed(texts)
        self._metrics.embedding_inputs.inc(len(texts))
        self._metrics.prompt_tokens.inc(sum(counts))
        return embedding_list(vectors, model=model, prompt_tokens=sum(counts), encoding_format=request.encoding_format)
