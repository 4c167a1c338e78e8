"""Settings of the knowledge base (YAML section `knowledge`, env prefix `INFERSTACK_KNOWLEDGE_`).

Shared by ingestion and by the agent's retrieval: which vector store holds the chunks, where, and which
OpenAI-compatible embeddings endpoint (normally the gateway) turns text into vectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from inferstack.core.settings import LayeredSettings

DEFAULT_KNOWLEDGE_DIR = Path(".inferstack") / "knowledge"
SPECIAL_TOKENS_PER_INPUT = 2  # [CLS] and [SEP] for BERT-style embedding models such as MiniLM


class KnowledgeSettings(LayeredSettings):
    model_config = SettingsConfigDict(env_prefix="INFERSTACK_KNOWLEDGE_", extra="forbid")

    store: str = Field(
        default="milvus", description="Vector store by registered name: milvus (Lite or server), opensearch, memory."
    )
    # The same place `inferstack up` wires (<stack.data_dir>/knowledge), so a standalone `inferstack ingest` fills
    # the store the stack reads.
    data_dir: Path = Field(
        default=DEFAULT_KNOWLEDGE_DIR,
        description="Local state: the Milvus Lite database and ingestion manifests.",
    )
    collection: str = Field(default="knowledge", description="Milvus collection name.")
    milvus_uri: str | None = Field(
        default=None,
        description="Milvus Lite path ending in .db or a server URL (http://host:19530); default <data_dir>/milvus.db",
    )
    milvus_token: SecretStr | None = Field(default=None, description="Milvus server token ('user:password' or key).")
    opensearch_url: str | None = Field(default=None, description="OpenSearch endpoint, e.g. https://host:443.")
    opensearch_index: str = Field(default="knowledge-embeddings", description="OpenSearch k-NN index name.")
    opensearch_username: SecretStr | None = Field(default=None, description="OpenSearch basic-auth user.")
    opensearch_password: SecretStr | None = Field(default=None, description="OpenSearch basic-auth password.")
    opensearch_aws_sigv4: bool = Field(default=False, description="Sign requests with AWS SigV4 (needs boto3).")
    opensearch_aws_region: str | None = Field(default=None, description="AWS region for SigV4 signing.")
    opensearch_aws_service: Literal["es", "aoss"] = Field(
        default="es", description="'es' for Amazon OpenSearch Service, 'aoss' for OpenSearch Serverless."
    )
    opensearch_verify_certs: bool = True
    embedding_base_url: str = Field(
        default="http://127.0.0.1:4000/v1", description="OpenAI-compatible API serving POST /embeddings."
    )
    embedding_model: str = Field(default="all-minilm-l6-v2", min_length=1)
    embedding_api_key: SecretStr | None = Field(default=None, description="Bearer key for the embeddings endpoint.")
    embedding_dimension: int = Field(default=384, ge=1, description="Vector size the embedding model returns.")
    embedding_max_tokens: int = Field(
        default=256, ge=8, description="Longest input the embedding model accepts, special tokens included."
    )
    embedding_timeout_s: float = Field(default=120.0, gt=0)
    tokenizer: Path | None = Field(
        default=None,
        description="tokenizer.json of the embedding model; default the packaged all-MiniLM-L6-v2 tokenizer.",
    )
    chunk_tokens: int = Field(default=200, ge=8, description="Tokens per chunk (excluding special tokens).")
    chunk_overlap: int = Field(default=40, ge=0, description="Tokens shared by consecutive chunks of a document.")
    batch_size: int = Field(default=64, ge=1, le=2048, description="Texts per embeddings request.")
    max_file_bytes: int = Field(default=50 * 1024 * 1024, ge=1, description="Larger files are skipped, not read.")
    lexical: bool = Field(
        default=True,
        description="Keep a BM25 index beside the store (<data_dir>/lexical/) for hybrid search; OpenSearch uses "
        "its own BM25 instead.",
    )
    lexical_max_chunks: int = Field(default=200_000, ge=1, description="Most chunks the BM25 index holds.")

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        from inferstack.retrieval.stores.registry import NamedVectorStore

        if value not in NamedVectorStore.names():
            raise ValueError(f"unknown vector store '{value}'; known: {', '.join(NamedVectorStore.names())}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> KnowledgeSettings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        if self.chunk_tokens + SPECIAL_TOKENS_PER_INPUT > self.embedding_max_tokens:
            raise ValueError(
                f"chunk_tokens + {SPECIAL_TOKENS_PER_INPUT} special tokens must fit embedding_max_tokens "
                f"({self.embedding_max_tokens}); the embeddings endpoint rejects longer inputs"
            )
        if self.store == "opensearch" and not self.opensearch_url:
            raise ValueError("store 'opensearch' needs opensearch_url")
        if self.opensearch_aws_sigv4 and not self.opensearch_aws_region:
            raise ValueError("opensearch_aws_sigv4 needs opensearch_aws_region")
        return self

    @property
    def resolved_milvus_uri(self) -> str:
        return self.milvus_uri or str(self.data_dir / "milvus.db")

    @property
    def lexical_index_path(self) -> Path:
        return self.data_dir / "lexical" / f"{self.collection_name}.bm25.json"

    @property
    def collection_name(self) -> str:
        """The collection or index this configuration reads and writes."""
        return self.opensearch_index if self.store == "opensearch" else self.collection

    def secret(self, value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None

    def summary(self) -> dict[str, object]:
        """What is configured, safe to print or serve (no secrets, no credentials in URLs)."""
        location = {
            "milvus": self.resolved_milvus_uri,
            "opensearch": self.opensearch_url,
            "memory": "process memory",
        }.get(self.store, self.store)
        return {
            "store": self.store,
            "location": _without_credentials(location),
            "collection": self.collection_name,
            "embedding_base_url": _without_credentials(self.embedding_base_url),
            "embedding_model": self.embedding_model,
            "embedding_dimension": self.embedding_dimension,
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap": self.chunk_overlap,
        }


def _without_credentials(url: str | None) -> str | None:
    if url is None or "@" not in url or "//" not in url:
        return url
    scheme, rest = url.split("//", 1)
    return f"{scheme}//{rest.split('@', 1)[1]}"
