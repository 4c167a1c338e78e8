"""`OpenAIEmbeddingClient`: batches texts to an OpenAI-compatible `POST {base_url}/embeddings` over aiohttp.

Every failure (unreachable, HTTP error, malformed body, wrong count or dimension) raises `EmbeddingError`
with the upstream's message summarised; the API key never appears in an error. Vectors come back
L2-normalised. Transient failures (connection errors, 429, 502–504) are retried a few times first.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson
from yarl import URL

from inferstack.retrieval.embedders.base import EmbeddingError

_RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
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
        retry_backoff_s: float = 0.5,
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
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._dimension = dimension
        self._concurrency = concurrency
        self._max_retries = max_retries
        self._retry_backoff_s = retry_backoff_s
        self._session: aiohttp.ClientSession | None = None

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
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        payload = orjson.dumps({"model": self._model, "input": texts, "encoding_format": "float"})
        attempt = 0
        while True:
            try:
                return self._parse(await self._post(payload), len(texts))
            except _TransientError as exc:
                attempt += 1
                if attempt > self._max_retries:
                    raise EmbeddingError(f"{exc} (gave up after {attempt} attempts)") from None
                await asyncio.sleep(self._retry_backoff_s * 2 ** (attempt - 1))

    async def _post(self, payload: bytes) -> Any:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        session = self._ensure_session()
        try:
            async with session.post(self._url, data=payload, headers=headers) as response:
                body = await response.read()
                status = response.status
        except TimeoutError:
            raise _TransientError(f"embeddings endpoint {self._url} timed out") from None
        except aiohttp.ClientError as exc:
            raise _TransientError(f"cannot reach embeddings endpoint {self._url}: {type(exc).__name__}") from None
        if status != 200:
            message = f"embeddings endpoint {self._url} answered HTTP {status}: {self._summarise(body)}"
            if status in _RETRYABLE_STATUS:
                raise _TransientError(message)
            raise EmbeddingError(message)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise EmbeddingError(f"embeddings endpoint {self._url} returned a non-JSON body") from None

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

    def _summarise(self, body: bytes) -> str:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        message: str
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            error = parsed["error"]
            message = str(error.get("message") or error.get("type") or "no message")
            if error.get("code"):
                message = f"{message} (code {error['code']})"
        elif isinstance(parsed, dict) and "detail" in parsed:
            message = str(parsed["detail"])
        else:
            message = body[:_MAX_MESSAGE].decode("utf-8", errors="replace").strip() or "empty body"
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "…"

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session


class _TransientError(Exception):
    """A failure worth retrying; becomes `EmbeddingError` when retries run out."""
