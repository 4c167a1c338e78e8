"""Embeddings on an `EmbeddingEngine`: token-id inputs decoded, every input checked against the model's limit.

An input over the limit is a 400 `context_length_exceeded` unless the request (vLLM's `truncate_prompt_tokens`)
or the server (`serve.embedding_truncate_prompt_tokens`) asks for truncation: then each input keeps its first N
tokens of the embedding model's tokenizer (N = -1: the model's limit), as sentence-transformers truncates.
"""

from __future__ import annotations

from typing import Any

from inferstack.core.errors import ContextLengthExceededError, InvalidRequestError
from inferstack.observability.serving_metrics import ServingMetrics
from inferstack.openai_api.embeddings import EmbeddingRequest, embedding_list
from inferstack.serving.embedding_token_ids import TokenIdDecoder
from inferstack.serving.engines.base import EmbeddingEngine


class EmbeddingService:
    def __init__(
        self,
        embedder: EmbeddingEngine,
        metrics: ServingMetrics,
        *,
        token_ids: TokenIdDecoder | None = None,
        truncate_prompt_tokens: int | None = None,
    ) -> None:
        self._embedder = embedder
        self._metrics = metrics
        self._token_ids = token_ids if token_ids is not None else TokenIdDecoder()
        self._truncate_default = truncate_prompt_tokens

    async def embed(self, request: EmbeddingRequest, model: str) -> dict[str, Any]:
        info = self._embedder.info
        if request.dimensions is not None and request.dimensions != info.dimension:
            raise InvalidRequestError(
                f"this embedding model produces {info.dimension} dimensions and cannot return {request.dimensions}",
                param="dimensions",
            )
        token_ids = request.token_ids
        texts = request.texts if token_ids is None else self._token_ids.decode(token_ids)
        truncate = request.truncate_prompt_tokens
        if truncate is None:
            truncate = self._truncate_default
        if truncate is not None:
            keep = info.max_input_tokens if truncate == -1 else min(truncate, info.max_input_tokens)
            if keep < 1:
                raise InvalidRequestError(
                    "truncate_prompt_tokens must be -1 or at least 1", param="truncate_prompt_tokens"
                )
            texts = await self._embedder.truncate(texts, keep)
        counts = await self._embedder.count_tokens(texts)
        for index, count in enumerate(counts):
            if count > info.max_input_tokens:
                raise ContextLengthExceededError(
                    f"input {index} has {count} tokens; '{info.model_id}' accepts at most "
                    f"{info.max_input_tokens} per input (split it, or send truncate_prompt_tokens to truncate)",
                    param="input",
                )
        vectors = await self._embedder.embed(texts)
        self._metrics.embedding_inputs.inc(len(texts))
        self._metrics.prompt_tokens.inc(sum(counts))
        return embedding_list(vectors, model=model, prompt_tokens=sum(counts), encoding_format=request.encoding_format)
