"""Build the configured `VectorStore` (by name, see `stores/registry.py`) and `Embedder` from `KnowledgeSettings`."""

from __future__ import annotations

from inferstack.retrieval.embedders.openai_http import OpenAIEmbeddingClient
from inferstack.retrieval.settings import KnowledgeSettings
from inferstack.retrieval.stores.base import VectorStore
from inferstack.retrieval.stores.lexical_indexed import LexicalIndexedStore, LexicalSearch
from inferstack.retrieval.stores.registry import NamedVectorStore


def store_names() -> list[str]:
    return NamedVectorStore.names()


def build_vector_store(settings: KnowledgeSettings) -> VectorStore:
    """The store `settings.store` names; nothing is opened until its first call (or its `open()`).

    With `settings.lexical`, a store without its own full-text search gets a BM25 index beside it."""
    store = NamedVectorStore.create(settings.store, settings)
    if settings.lexical and not isinstance(store, LexicalSearch):
        return LexicalIndexedStore(store, settings.lexical_index_path, max_chunks=settings.lexical_max_chunks)
    return store


def build_embedder(settings: KnowledgeSettings, *, api_key: str | None = None) -> OpenAIEmbeddingClient:
    """The OpenAI-compatible embeddings client; `api_key` overrides the configured one."""
    return OpenAIEmbeddingClient(
        settings.embedding_base_url,
        api_key or settings.secret(settings.embedding_api_key),
        settings.embedding_model,
        batch_size=settings.batch_size,
        timeout=settings.embedding_timeout_s,
        dimension=settings.embedding_dimension,
    )
