"""The knowledge base as the agent queries it: embed the query, search the vector store, report what it holds.

Long questions are embedded in word windows (the embedding model has a short input limit) and the hits merged,
so no part of a question is dropped. Embedding failures raise `EmbeddingError` (502), store failures
`VectorStoreError` (503): the agent never searches with a made-up vector.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from inferstack.retrieval.embedders.base import Embedder
from inferstack.retrieval.stores.base import SearchHit, VectorStore

WINDOW_WORDS = 100
WINDOW_CHARS = 500  # also bounds windows of long or unusual words (about 2 characters per token at worst)


@dataclass(frozen=True)
class KnowledgeStatus:
    status: str  # "ready" | "empty"
    documents: int
    chunks: int
    last_updated: str | None


def query_windows(text: str, max_words: int = WINDOW_WORDS, max_chars: int = WINDOW_CHARS) -> list[str]:
    """`text` as consecutive windows of at most `max_words` words and `max_chars` characters, covering all of it."""
    pieces = [word[i : i + max_chars] for word in text.split() for i in range(0, len(word), max_chars)]
    windows: list[str] = []
    current: list[str] = []
    length = 0
    for piece in pieces:
        if current and (len(current) == max_words or length + 1 + len(piece) > max_chars):
            windows.append(" ".join(current))
            current, length = [], 0
        length += len(piece) + (1 if current else 0)
        current.append(piece)
    if current:
        windows.append(" ".join(current))
    return windows or [text]


def merge_hits(hit_lists: Sequence[Sequence[SearchHit]], top_k: int) -> list[SearchHit]:
    """Union of hits by chunk id keeping each chunk's best score, best first, at most `top_k`."""
    best: dict[str, SearchHit] = {}
    for hits in hit_lists:
        for hit in hits:
            known = best.get(hit.id)
            if known is None or hit.score > known.score:
                best[hit.id] = hit
    return sorted(best.values(), key=lambda hit: hit.score, reverse=True)[:top_k]


class KnowledgeBase:
    def __init__(self, store: VectorStore, embedder: Embedder, *, last_updated: dt.datetime | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self._last_updated = last_updated

    async def search(self, queries: Sequence[str], top_k: int) -> list[SearchHit]:
        """The best `top_k` chunks for any of `queries` (each embedded in windows), in one embedding call."""
        texts = [window for query in queries for window in query_windows(query)]
        vectors = await self.embedder.embed(texts)
        hit_lists = [await self.store.search(vector, top_k) for vector in vectors]
        return merge_hits(hit_lists, top_k)

    async def status(self) -> KnowledgeStatus:
        chunks = await self.store.count()
        documents = len(await self.store.sources()) if chunks else 0
        updated = self._last_updated.isoformat(timespec="seconds") if self._last_updated else None
        return KnowledgeStatus(
            status="ready" if chunks else "empty", documents=documents, chunks=chunks, last_updated=updated
        )

    def mark_updated(self, when: dt.datetime | None = None) -> None:
        self._last_updated = when or dt.datetime.now(dt.UTC)
