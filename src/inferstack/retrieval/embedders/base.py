"""The `Embedder` interface: texts in, unit-normalised vectors out, or an `EmbeddingError` — never made-up vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from inferstack.core.errors import UpstreamError


class EmbeddingError(UpstreamError):
    """Embedding failed (upstream down, rejected input, wrong dimension). Ingestion stops on it."""

    default_code = "embedding_failed"


class EmbeddingsUnavailableError(EmbeddingError):
    """The embeddings endpoint answered 503 (its model server is down or restarting): come back later."""

    status_code = 503
    error_type = "overloaded_error"
    default_code = "embeddings_unavailable"


class Embedder(Protocol):
    @property
    def dimension(self) -> int | None:
        """Vector size once known (after the first call or from config)."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; raises `EmbeddingError` on any failure."""
        ...

    async def close(self) -> None: ...
