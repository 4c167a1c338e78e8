"""KnowledgeSettings layering and validation; stores and the embedder built by name from settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from inferstack.core.settings import load_settings
from inferstack.retrieval.embedders.openai_http import OpenAIEmbeddingClient
from inferstack.retrieval.factory import build_embedder, build_vector_store, store_names
from inferstack.retrieval.settings import KnowledgeSettings
from inferstack.retrieval.stores.lexical_indexed import LexicalIndexedStore
from inferstack.retrieval.stores.memory import InMemoryVectorStore
from inferstack.retrieval.stores.milvus import MilvusVectorStore
from inferstack.retrieval.stores.opensearch import OpenSearchVectorStore


def test_defaults_follow_the_documented_values() -> None:
    settings = KnowledgeSettings()
    assert settings.store == "milvus"
    # The place `inferstack up` wires for the stack, so standalone ingestion fills the store the stack reads.
    assert settings.resolved_milvus_uri == str(Path(".inferstack") / "knowledge" / "milvus.db")
    assert (settings.chunk_tokens, settings.chunk_overlap, settings.batch_size) == (200, 40, 64)
    assert settings.embedding_base_url == "http://127.0.0.1:4000/v1"
    assert settings.embedding_model == "all-minilm-l6-v2"


def test_yaml_env_and_overrides_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "stack.yaml"
    config.write_text("knowledge:\n  collection: from_yaml\n  chunk_tokens: 120\n  batch_size: 8\n")
    monkeypatch.setenv("INFERSTACK_KNOWLEDGE_EMBEDDING_API_KEY", "sk-from-env")
    monkeypatch.setenv("INFERSTACK_KNOWLEDGE_BATCH_SIZE", "16")
    settings = load_settings(
        KnowledgeSettings, config_file=config, section="knowledge", overrides={"data_dir": tmp_path, "store": None}
    )
    assert settings.collection == "from_yaml"
    assert settings.chunk_tokens == 120
    assert settings.batch_size == 16
    assert settings.data_dir == tmp_path
    assert settings.secret(settings.embedding_api_key) == "sk-from-env"
    assert "sk-from-env" not in repr(settings)
    assert "sk-from-env" not in str(settings.summary())


@pytest.mark.parametrize(
    "values",
    [
        {"chunk_tokens": 100, "chunk_overlap": 100},
        {"chunk_tokens": 255},
        {"store": "opensearch"},
        {"store": "opensearch", "opensearch_url": "https://x", "opensearch_aws_sigv4": True},
        {"store": "chroma"},
    ],
)
def test_inconsistent_settings_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KnowledgeSettings(**values)  # type: ignore[arg-type]


def test_summary_hides_credentials_in_urls() -> None:
    settings = KnowledgeSettings(store="opensearch", opensearch_url="https://admin:pw@search.example:443")
    summary = settings.summary()
    assert summary["location"] == "https://search.example:443"
    assert summary["collection"] == "knowledge-embeddings"


async def test_each_store_is_built_by_name(tmp_path: Path) -> None:
    assert store_names() == ["memory", "milvus", "opensearch"]
    # Stores without full-text search get a BM25 index beside them; OpenSearch has its own.
    memory = build_vector_store(KnowledgeSettings(store="memory", embedding_dimension=8, data_dir=tmp_path))
    assert isinstance(memory, LexicalIndexedStore) and isinstance(memory.inner, InMemoryVectorStore)
    assert memory.dimension == 8
    assert isinstance(build_vector_store(KnowledgeSettings(store="memory", lexical=False)), InMemoryVectorStore)
    milvus = build_vector_store(KnowledgeSettings(store="milvus", data_dir=tmp_path))
    assert isinstance(milvus, LexicalIndexedStore) and isinstance(milvus.inner, MilvusVectorStore)
    assert milvus.index_path == tmp_path / "lexical" / "knowledge.bm25.json"
    assert milvus.inner.location == str((tmp_path / "milvus.db").resolve())
    await milvus.close()
    opensearch = build_vector_store(KnowledgeSettings(store="opensearch", opensearch_url="http://127.0.0.1:1"))
    assert isinstance(opensearch, OpenSearchVectorStore)
    await opensearch.close()


def test_a_new_store_is_one_class_registered_by_name() -> None:
    from inferstack.core.errors import InferstackError
    from inferstack.retrieval.stores.registry import NamedVectorStore

    with pytest.raises(ValidationError, match="unknown vector store 'fake-named'; known: memory, milvus, opensearch"):
        KnowledgeSettings(store="fake-named")

    class FakeNamedStore(InMemoryVectorStore):
        name = "fake-named"

        @classmethod
        def from_settings(cls, settings: KnowledgeSettings) -> FakeNamedStore:
            return cls(settings.embedding_dimension * 2)

    try:
        settings = KnowledgeSettings(store="fake-named", embedding_dimension=4, lexical=False)
        store = build_vector_store(settings)
        assert isinstance(store, FakeNamedStore) and store.dimension == 8
        assert "fake-named" in store_names()
        assert settings.summary()["store"] == "fake-named"
    finally:
        NamedVectorStore._registry.pop("fake-named", None)
    with pytest.raises(InferstackError, match="unknown vector store 'nope'"):
        build_vector_store(KnowledgeSettings().model_copy(update={"store": "nope"}))


def test_embedder_uses_settings_and_an_explicit_key_wins() -> None:
    settings = KnowledgeSettings(embedding_base_url="http://127.0.0.1:9/v1", embedding_dimension=384)
    embedder = build_embedder(settings, api_key="sk-cli")
    assert isinstance(embedder, OpenAIEmbeddingClient)
    assert embedder.dimension == 384
    assert embedder.model == "all-minilm-l6-v2"
