"""Build the configured `VectorStore` (by name: milvus, opensearch, memory) and `Embedder` from `KnowledgeSettings`.

Each store module is imported only when chosen, so pymilvus or opensearch-py load only where used. A new store is
one module plus one `register_store` line.
"""

from __future__ import annotations

from collections.abc import Callable

from inferstack.retrieval.embedders.openai_http import OpenAIEmbeddingClient
from inferstack.retrieval.settings import KnowledgeSettings
from inferstack.retrieval.stores.base import VectorStore, VectorStoreError

StoreBuilder = Callable[[KnowledgeSettings], VectorStore]
_STORES: dict[str, StoreBuilder] = {}


def register_store(name: str, builder: StoreBuilder) -> None:
    _STORES[name] = builder


def store_names() -> list[str]:
    return sorted(_STORES)


def build_vector_store(settings: KnowledgeSettings) -> VectorStore:
    """The store `settings.store` names; nothing is opened until its first call (or its `open()`)."""
    builder = _STORES.get(settings.store)
    if builder is None:
        raise VectorStoreError(f"unknown vector store '{settings.store}'; known: {', '.join(store_names())}")
    return builder(settings)


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


def _memory(settings: KnowledgeSettings) -> VectorStore:
    from inferstack.retrieval.stores.memory import InMemoryVectorStore

    return InMemoryVectorStore(settings.embedding_dimension)


def _milvus(settings: KnowledgeSettings) -> VectorStore:
    from inferstack.retrieval.stores.milvus import MilvusConfig, MilvusVectorStore

    config = MilvusConfig(
        uri=settings.resolved_milvus_uri,
        collection=settings.collection,
        dimension=settings.embedding_dimension,
        token=settings.secret(settings.milvus_token),
    )
    return MilvusVectorStore(config)


def _opensearch(settings: KnowledgeSettings) -> VectorStore:
    from inferstack.retrieval.stores.opensearch import OpenSearchConfig, OpenSearchVectorStore

    if settings.opensearch_url is None:
        raise VectorStoreError("store 'opensearch' needs knowledge.opensearch_url", code="invalid_config")
    config = OpenSearchConfig(
        url=settings.opensearch_url,
        index=settings.opensearch_index,
        dimension=settings.embedding_dimension,
        username=settings.secret(settings.opensearch_username),
        password=settings.secret(settings.opensearch_password),
        aws_sigv4=settings.opensearch_aws_sigv4,
        aws_region=settings.opensearch_aws_region,
        aws_service=settings.opensearch_aws_service,
        verify_certs=settings.opensearch_verify_certs,
    )
    return OpenSearchVectorStore(config)


register_store("memory", _memory)
register_store("milvus", _milvus)
register_store("opensearch", _opensearch)
