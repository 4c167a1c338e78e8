"""`OpenAIEmbeddingClient`: batches texts to an OpenAI-compatible `POST {base_url}/embeddings` with the official
`openai` SDK (`AsyncOpenAI`), which owns the transport, retries with backoff (connection errors, 408/409/429/5xx)
and error parsing.

On top of the SDK this module keeps what is ours: batching with a few requests in flight, the checks of every
reply (count, order by index, numbers, dimension, non-zero) and L2 normalisation. Every failure raises
`EmbeddingError` with the upstream's message summarised and the API key masked — never a made-up vector.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

import openai
from yarl import URL

from inferstack.observability.http_client import traced_http_client
from inferstack.retrieval.embedders.base import EmbeddingError, EmbeddingsUnavailableError

_MAX_MESSAGE = 300


class OpenAIEmbeddingClient:
    """Sends at most `batch_size` texts per request, up to `concurrency` requests at once, results in order."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        batch_size: int = 64,
        timeout: float = 60.0,
        *,
        dimension: int | None = None,
        concurrency: int = 2,
        max_retries: int = 2,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        if concurrency < 1:
            raise ValueError("concurrency must be positive")
        if URL(base_url).user is not None:
            raise ValueError("the embeddings base URL must not embed credentials; pass the API key separately")
        self._url = base_url.rstrip("/") + "/embeddings"
        self._api_key = api_key or None
        self._model = model
        self._batch_size = batch_size
        self._dimension = dimension
        self._concurrency = concurrency
        # Without a key no Authorization header is sent at all; the placeholder only stops the SDK from reading
        # the host's OPENAI_API_KEY, which must never go to this endpoint.
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=self._api_key or "no-key",
            timeout=timeout,
            max_retries=max_retries,
            http_client=traced_http_client(),
        )
        self._headers: dict[str, str | openai.Omit] = {} if self._api_key else {"Authorization": openai.Omit()}

    @property
    def dimension(self) -> int | None:
        return self._dimension

    @property
    def model(self) -> str:
        return self._model

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        batches = [list(texts[i : i + self._batch_size]) for i in range(0, len(texts), self._batch_size)]
        limit = asyncio.Semaphore(self._concurrency)

        async def run(batch: list[str]) -> list[list[float]]:
            async with limit:
                return await self._embed_batch(batch)

        tasks = [asyncio.ensure_future(run(batch)) for batch in batches]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return [vector for batch_vectors in results for vector in batch_vectors]

    async def close(self) -> None:
        await self._client.close()

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        try:
            response = await self._client.embeddings.with_raw_response.create(
                model=self._model, input=texts, encoding_format="float", extra_headers=self._headers
            )
        except openai.APITimeoutError:
            raise EmbeddingError(f"embeddings endpoint {self._url} timed out") from None
        except openai.APIConnectionError as exc:
            cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "connection error"
            raise EmbeddingError(f"cannot reach embeddings endpoint {self._url}: {cause}") from None
        except openai.APIStatusError as exc:
            message = f"embeddings endpoint {self._url} answered HTTP {exc.status_code}: {self._summarise(exc)}"
            if exc.status_code == 503:
                retry_after = exc.response.headers.get("retry-after", "")
                wait = max(1.0, float(retry_after)) if retry_after.isdigit() else 2.0
                raise EmbeddingsUnavailableError(message, retry_after=wait) from None
            raise EmbeddingError(message) from None
        except openai.APIError as exc:
            raise EmbeddingError(f"embeddings endpoint {self._url} failed: {self._mask(exc.message)}") from None
        try:
            body = response.http_response.json()
        except ValueError:
            raise EmbeddingError(f"embeddings endpoint {self._url} returned a non-JSON body") from None
        return self._parse(body, len(texts))

    def _parse(self, body: Any, expected: int) -> list[list[float]]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise EmbeddingError(f"embeddings endpoint {self._url} returned no 'data' list")
        if len(data) != expected:
            raise EmbeddingError(f"embeddings endpoint {self._url} returned {len(data)} vectors for {expected} inputs")
        ordered: list[list[float] | None] = [None] * expected
        for position, item in enumerate(data):
            index = item.get("index", position) if isinstance(item, dict) else None
            vector = item.get("embedding") if isinstance(item, dict) else None
            if not isinstance(index, int) or not 0 <= index < expected or ordered[index] is not None:
                raise EmbeddingError(f"embeddings endpoint {self._url} returned a bad or repeated index")
            ordered[index] = self._normalised(vector)
        return [vector for vector in ordered if vector is not None]

    def _normalised(self, vector: Any) -> list[float]:
        if not isinstance(vector, list) or not vector or not all(isinstance(x, int | float) for x in vector):
            raise EmbeddingError(
                f"embeddings endpoint {self._url} returned an embedding that is not a list of numbers "
                "(is encoding_format=float supported?)"
            )
        if self._dimension is None:
            self._dimension = len(vector)
        elif len(vector) != self._dimension:
            raise EmbeddingError(
                f"embeddings endpoint {self._url} returned a {len(vector)}-d vector, "
                f"expected {self._dimension}-d (model '{self._model}')",
                code="dimension_mismatch",
            )
        norm = math.sqrt(math.fsum(x * x for x in vector))
        if not math.isfinite(norm) or norm == 0.0:
            raise EmbeddingError(f"embeddings endpoint {self._url} returned an all-zero or non-finite vector")
        return [x / norm for x in vector]

    def _summarise(self, exc: openai.APIStatusError) -> str:
        """The upstream's own message: OpenAI's `{"error": {...}}`, FastAPI's `{"detail": ...}`, or the text."""
        body = exc.body
        message: str
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or error.get("type") or "no message")
            if error.get("code"):
                message = f"{message} (code {error['code']})"
        elif isinstance(body, dict) and "message" in body:  # the SDK unwraps {"error": {...}} into the error dict
            message = str(body.get("message") or body.get("type") or "no message")
            if body.get("code"):
                message = f"{message} (code {body['code']})"
        elif isinstance(body, dict) and "detail" in body:
            message = str(body["detail"])
        else:
            message = exc.response.text[:_MAX_MESSAGE].strip() or "empty body"
        return self._mask(message)

    def _mask(self, message: str) -> str:
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "…"
