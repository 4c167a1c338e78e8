"""The knowledge base as the agent queries it: hybrid search (dense + BM25, fused by rank), and what it holds.

Long questions are embedded in word windows (the embedding model has a short input limit) and the hits merged,
so no part of a question is dropped. When the store also answers keyword queries (a `LexicalSearch`: the BM25
index beside Milvus, OpenSearch's own), both rankings are fused by reciprocal rank fusion; `mode` can keep one.
Embedding failures raise `EmbeddingError` (502), store failures `VectorStoreError` (503): the agent never
searches with a made-up vector.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from inferstack.retrieval.embedders.base import Embedder
from inferstack.retrieval.lexical.bm25 import Bm25Index
from inferstack.retrieval.lexical.fusion import DEFAULT_K, reciprocal_rank_fusion
from inferstack.retrieval.stores.base import SearchHit, VectorStore
from inferstack.retrieval.stores.lexical_indexed import LexicalSearch

RetrievalMode = Literal["hybrid", "dense", "lexical"]

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


@dataclass(frozen=True)
class RetrievalConfig:
    mode: RetrievalMode = "hybrid"
    candidates: int = 20  # each ranking's depth before fusion
    rrf_k: int = DEFAULT_K
    lexical_weight: float = 1.5


@dataclass(frozen=True)
class Retrieval:
    """Fused hits, best first; a hit's `score` is its cosine similarity (0.0 when only keyword search found it).
    `ranks` tells, per chunk id, where each ranking placed it."""

    hits: list[SearchHit]
    ranks: dict[str, dict[str, Any]] = field(default_factory=dict)
    mode: str = "dense"


class KnowledgeBase:
    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        last_updated: dt.datetime | None = None,
        retrieval: RetrievalConfig | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = retrieval or RetrievalConfig()
        self._last_updated = last_updated

    @property
    def has_lexical(self) -> bool:
        return isinstance(self.store, LexicalSearch)

    async def search(self, queries: Sequence[str], top_k: int) -> list[SearchHit]:
        """The best `top_k` chunks for any of `queries` (each embedded in windows), in one embedding call."""
        return (await self.retrieve(queries, top_k)).hits

    async def retrieve(self, queries: Sequence[str], top_k: int) -> Retrieval:
        mode = self.config.mode if self.has_lexical else "dense"
        depth = max(top_k, self.config.candidates) if mode == "hybrid" else top_k
        dense: list[SearchHit] = []
        if mode != "lexical":
            texts = [window for query in queries for window in query_windows(query)]
            vectors = await self.embedder.embed(texts)
            dense = merge_hits([await self.store.search(vector, depth) for vector in vectors], depth)
        lexical: list[SearchHit] = []
        if mode != "dense" and isinstance(self.store, LexicalSearch):
            lexical = await self.store.lexical_search(" ".join(queries), depth)
        ranks: dict[str, dict[str, Any]] = {}
        for name, hits in (("dense", dense), ("lexical", lexical)):
            for rank, hit in enumerate(hits, start=1):
                ranks.setdefault(hit.id, {})[f"{name}_rank"] = rank
                ranks[hit.id][f"{name}_score"] = round(hit.score, 4)
        if mode == "dense":
            return Retrieval(dense[:top_k], ranks, mode)
        cosine = {hit.id: hit for hit in dense}
        by_id = {**{hit.id: replace(hit, score=0.0) for hit in lexical}, **cosine}
        fused = reciprocal_rank_fusion(
            [[hit.id for hit in dense], [hit.id for hit in lexical]],
            k=self.config.rrf_k,
            weights=[1.0, self.config.lexical_weight],
        )
        for chunk_id, score in fused:
            ranks[chunk_id]["fused_score"] = round(score, 5)
        return Retrieval([by_id[chunk_id] for chunk_id, _ in fused[:top_k]], ranks, mode)

    async def idf(self) -> Callable[[str], float] | None:
        """Term rarity from the BM25 index, when the store keeps one."""
        index = await self.lexical_index()
        return None if index is None else index.idf

    async def lexical_index(self) -> Bm25Index | None:
        """The BM25 index beside the store, when there is one (its term statistics weight answer grading)."""
        getter = getattr(self.store, "lexical_index", None)
        if getter is None:
            return None
        index: Bm25Index = await getter()
        return index

    async def status(self) -> KnowledgeStatus:
        chunks = await self.store.count()
        documents = len(await self.store.sources()) if chunks else 0
        updated = self._last_updated.isoformat(timespec="seconds") if self._last_updated else None
        return KnowledgeStatus(
            status="ready" if chunks else "empty", documents=documents, chunks=chunks, last_updated=updated
        )

    def mark_updated(self, when: dt.datetime | None = None) -> None:
        self._last_updated = when or dt.datetime.now(dt.UTC)
