"""The `VectorStore` interface and the records it stores and returns; no store-specific code here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from inferstack.core.errors import OverloadedError


class VectorStoreError(OverloadedError):
    """The vector store is unreachable or rejected an operation (503 at HTTP boundaries)."""

    default_code = "vector_store_unavailable"


@dataclass(frozen=True)
class Chunk:
    """One embedded piece of a document. `id` is deterministic: hash of source + position."""

    id: str
    text: str
    source: str
    vector: Sequence[float]
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    """A chunk returned by a similarity search; `score` is cosine similarity in [-1, 1], higher is closer."""

    id: str
    text: str
    source: str
    score: float
    metadata: Mapping[str, Any] = field(default_factory=dict)


class VectorStore(Protocol):
    """A collection of chunks with cosine-similarity search. Every method may raise `VectorStoreError`."""

    @property
    def dimension(self) -> int: ...

    async def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Insert or replace chunks by id; durable (flushed) when this returns."""

    async def search(
        self, vector: Sequence[float], top_k: int, where: Mapping[str, str | int] | None = None
    ) -> list[SearchHit]:
        """The `top_k` chunks closest to `vector`, best first; `where` filters on exact metadata/source values."""
        ...

    async def delete_source(self, source: str) -> int:
        """Remove every chunk of `source`; returns how many were removed."""
        ...

    async def count(self) -> int: ...

    async def sources(self) -> set[str]:
        """The distinct sources present (used to reconcile the ingestion manifest)."""
        ...

    async def drop(self) -> None:
        """Delete the whole collection/index."""

    async def close(self) -> None: ...
