"""`InMemoryVectorStore`: exact cosine search over a numpy matrix, for small collections and unit tests.

Nothing is persisted; the store lives as long as the object. Vectors are L2-normalised on the way in,
so a search is one matrix-vector product.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from inferstack.retrieval.stores.base import Chunk, SearchHit
from inferstack.retrieval.stores.registry import NamedVectorStore
from inferstack.retrieval.stores.validation import as_unit_vector, check_top_k, check_where

if TYPE_CHECKING:
    from inferstack.retrieval.settings import KnowledgeSettings


class InMemoryVectorStore(NamedVectorStore):
    """Chunks held in a dict; the vector matrix is rebuilt lazily after writes."""

    name = "memory"

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings) -> InMemoryVectorStore:
        return cls(settings.embedding_dimension)

    def __init__(self, dimension: int) -> None:
        if dimension < 1:
            raise ValueError("dimension must be positive")
        self._dimension = dimension
        self._chunks: dict[str, Chunk] = {}
        self._vectors: dict[str, npt.NDArray[np.float32]] = {}
        self._matrix: npt.NDArray[np.float32] | None = None
        self._ids: list[str] = []
        self._source_column: npt.NDArray[np.object_] = np.empty(0, dtype=object)
        self._lock = asyncio.Lock()

    @property
    def dimension(self) -> int:
        return self._dimension

    async def upsert(self, chunks: Sequence[Chunk]) -> None:
        prepared = [(chunk, as_unit_vector(chunk.vector, self._dimension, chunk.id)) for chunk in chunks]
        async with self._lock:
            for chunk, vector in prepared:
                self._chunks[chunk.id] = chunk
                self._vectors[chunk.id] = vector
            self._matrix = None

    async def search(
        self, vector: Sequence[float], top_k: int, where: Mapping[str, str | int] | None = None
    ) -> list[SearchHit]:
        check_top_k(top_k)
        check_where(where)
        query = as_unit_vector(vector, self._dimension, "query")
        async with self._lock:
            matrix, ids = self._current_matrix()
            if not ids:
                return []
            scores = matrix @ query
            if where:
                mask = self._mask(ids, where)
                scores = np.where(mask, scores, -np.inf)
                available = int(mask.sum())
            else:
                available = len(ids)
            k = min(top_k, available)
            if k == 0:
                return []
            best = np.argpartition(-scores, k - 1)[:k] if k < len(ids) else np.arange(len(ids))
            best = best[np.argsort(-scores[best], kind="stable")]
            return [_hit(self._chunks[ids[i]], float(scores[i])) for i in best[:k]]

    async def delete_source(self, source: str) -> int:
        async with self._lock:
            doomed = [chunk_id for chunk_id, chunk in self._chunks.items() if chunk.source == source]
            for chunk_id in doomed:
                del self._chunks[chunk_id]
                del self._vectors[chunk_id]
            if doomed:
                self._matrix = None
            return len(doomed)

    async def count(self) -> int:
        return len(self._chunks)

    async def count_where(self, where: Mapping[str, str | int]) -> int:
        """How many chunks match `where` (same semantics as `search`)."""
        check_where(where)
        return sum(1 for chunk in self._chunks.values() if _matches(chunk, where))

    async def ids_where(self, where: Mapping[str, str | int]) -> set[str]:
        """Ids of every chunk matching `where`."""
        check_where(where)
        return {chunk.id for chunk in self._chunks.values() if _matches(chunk, where)}

    async def sources(self) -> set[str]:
        return {chunk.source for chunk in self._chunks.values()}

    async def all_chunks(self, page_size: int = 1000) -> AsyncIterator[list[SearchHit]]:
        """Every chunk (without its vector), `page_size` at a time."""
        chunks = list(self._chunks.values())
        for start in range(0, len(chunks), page_size):
            yield [_hit(chunk, 0.0) for chunk in chunks[start : start + page_size]]

    async def drop(self) -> None:
        async with self._lock:
            self._chunks.clear()
            self._vectors.clear()
            self._matrix = None

    async def close(self) -> None:
        return None

    def _mask(self, ids: list[str], where: Mapping[str, str | int]) -> npt.NDArray[np.bool_]:
        """Rows matching `where`: the source compared as a column, other keys checked only on those rows."""
        mask: npt.NDArray[np.bool_] = np.ones(len(ids), dtype=bool)
        if "source" in where:
            mask &= self._source_column == where["source"]
        rest = {key: value for key, value in where.items() if key != "source"}
        if rest:
            for row in np.flatnonzero(mask):
                mask[row] = _matches(self._chunks[ids[row]], rest)
        return mask

    def _current_matrix(self) -> tuple[npt.NDArray[np.float32], list[str]]:
        if self._matrix is None:
            self._ids = list(self._vectors)
            self._source_column = np.array([self._chunks[i].source for i in self._ids], dtype=object)
            if self._ids:
                self._matrix = np.stack([self._vectors[i] for i in self._ids])
            else:
                self._matrix = np.zeros((0, self._dimension), dtype=np.float32)
        return self._matrix, self._ids


def _matches(chunk: Chunk, where: Mapping[str, str | int]) -> bool:
    for key, expected in where.items():
        actual: Any = chunk.source if key == "source" else chunk.metadata.get(key)
        if isinstance(actual, bool) or actual != expected:
            return False
    return True


def _hit(chunk: Chunk, score: float) -> SearchHit:
    return SearchHit(id=chunk.id, text=chunk.text, source=chunk.source, score=score, metadata=dict(chunk.metadata))
