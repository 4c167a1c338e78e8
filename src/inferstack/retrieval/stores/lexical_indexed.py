"""`LexicalIndexedStore`: any `VectorStore` plus a BM25 index of the same chunks, kept beside it on disk.

Writes go to both: `upsert` adds to the index, `delete_source` and `drop` remove from it. The index file is
saved at most once per `save_interval_s` while writes arrive, and on `close`. When the store opens and the
index file is missing, unreadable or out of step with the store (a crash between a write and a save, chunks
ingested before lexical search existed), the index is rebuilt from the store's chunks (`ChunkSource`).
Stores with their own full-text search (OpenSearch) are not wrapped: they implement `lexical_search` themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from inferstack.retrieval.lexical.bm25 import Bm25Index, LexicalIndexFullError, docs_from
from inferstack.retrieval.stores.base import Chunk, SearchHit, VectorStore, VectorStoreError

log = logging.getLogger(__name__)


@runtime_checkable
class ChunkSource(Protocol):
    """A store that can list every chunk it holds (text, source, metadata; no vectors), page by page."""

    def all_chunks(self, page_size: int = 1000) -> AsyncIterator[list[SearchHit]]: ...


@runtime_checkable
class LexicalSearch(Protocol):
    """A store that also answers keyword (BM25) queries; hits' `score` is the BM25 score."""

    async def lexical_search(
        self, text: str, top_k: int, where: Mapping[str, str | int] | None = None
    ) -> list[SearchHit]: ...


class LexicalIndexedStore:
    def __init__(
        self, inner: VectorStore, index_path: Path, *, max_chunks: int = 200_000, save_interval_s: float = 2.0
    ) -> None:
        self.inner = inner
        self._path = index_path
        self._max_chunks = max_chunks
        self._save_interval_s = save_interval_s
        self._index: Bm25Index | None = None
        self._lock = asyncio.Lock()
        self._dirty = False
        self._saved_at = 0.0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def index_path(self) -> Path:
        return self._path

    async def open(self) -> None:
        opener = getattr(self.inner, "open", None)
        if opener is not None:
            await opener()
        await self._ready()

    async def upsert(self, chunks: Sequence[Chunk]) -> None:
        await self.inner.upsert(chunks)
        async with self._lock:
            index = await self._loaded()
            try:
                index.add(docs_from(chunks))
            except LexicalIndexFullError as exc:
                raise VectorStoreError(
                    f"{exc}; raise knowledge.lexical_max_chunks", code="lexical_index_full"
                ) from None
            await self._changed()

    async def search(
        self, vector: Sequence[float], top_k: int, where: Mapping[str, str | int] | None = None
    ) -> list[SearchHit]:
        return await self.inner.search(vector, top_k, where)

    async def lexical_search(
        self, text: str, top_k: int, where: Mapping[str, str | int] | None = None
    ) -> list[SearchHit]:
        index = await self._ready()
        return [
            SearchHit(id=h.id, text=h.text, source=h.source, score=h.score, metadata=dict(h.metadata))
            for h in index.search(text, top_k, where)
        ]

    async def lexical_index(self) -> Bm25Index:
        """The index itself (its term statistics grade answers)."""
        return await self._ready()

    async def delete_source(self, source: str) -> int:
        removed = await self.inner.delete_source(source)
        async with self._lock:
            index = await self._loaded()
            if index.remove_source(source):
                await self._changed()
        return removed

    async def count(self) -> int:
        return await self.inner.count()

    async def sources(self) -> set[str]:
        return await self.inner.sources()

    async def drop(self) -> None:
        await self.inner.drop()
        async with self._lock:
            index = await self._loaded()
            index.clear()
            await self._save(index)

    async def close(self) -> None:
        async with self._lock:
            if self._index is not None and self._dirty:
                await self._save(self._index)
        await self.inner.close()

    def __getattr__(self, name: str) -> object:
        # Store-specific extras (count_where, ids_where, location) pass through to the wrapped store.
        return getattr(self.inner, name)

    async def _ready(self) -> Bm25Index:
        if self._index is not None:
            return self._index
        async with self._lock:
            return await self._loaded()

    async def _loaded(self) -> Bm25Index:
        """The index, loaded or rebuilt on first use (call with the lock held)."""
        if self._index is not None:
            return self._index
        index = await asyncio.to_thread(Bm25Index.load, self._path, max_chunks=self._max_chunks)
        stored = await self.inner.count()
        if index is None or len(index) != stored:
            index = await self._rebuild(stored)
        self._index = index
        return index

    async def _rebuild(self, stored: int) -> Bm25Index:
        index = Bm25Index(max_chunks=self._max_chunks)
        if stored and isinstance(self.inner, ChunkSource):
            started = time.monotonic()
            async for page in self.inner.all_chunks():
                index.add(docs_from(page))
            log.info("lexical index rebuilt from %d chunks in %.1f s", len(index), time.monotonic() - started)
        elif stored:
            log.warning("lexical search is off: the %s store cannot list its chunks", type(self.inner).__name__)
        await self._save(index)
        return index

    async def _changed(self) -> None:
        self._dirty = True
        if time.monotonic() - self._saved_at >= self._save_interval_s:
            assert self._index is not None
            await self._save(self._index)

    async def _save(self, index: Bm25Index) -> None:
        await asyncio.to_thread(index.save, self._path)
        self._dirty = False
        self._saved_at = time.monotonic()
