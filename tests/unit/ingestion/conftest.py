"""Helpers for ingestion tests: a knowledge folder on disk and a pipeline over a fake embedder and memory store."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.retrieval.embedders.base import Embedder
from inferstack.retrieval.ingestion.chunking import Chunker, ChunkingConfig
from inferstack.retrieval.ingestion.pipeline import IngestionConfig, IngestionPipeline
from inferstack.retrieval.ingestion.tokenizer import TextTokenizer
from inferstack.retrieval.stores.base import VectorStore

DIM = 64
TOKENIZER = TextTokenizer()


def make_pipeline(
    store: VectorStore,
    embedder: Embedder,
    manifest: Path,
    *,
    batch_size: int = 4,
    chunk_tokens: int = 60,
    overlap: int = 10,
    model: str = "fake-model",
) -> IngestionPipeline:
    chunker = Chunker(TOKENIZER, ChunkingConfig(chunk_tokens=chunk_tokens, overlap=overlap))
    config = IngestionConfig(manifest_path=manifest, collection="test", embedding_model=model, batch_size=batch_size)
    return IngestionPipeline(store, embedder, chunker, config)


def long_text(topic: str, sentences: int) -> str:
    return " ".join(f"Sentence {i} explains {topic} in some detail for the reader." for i in range(sentences))


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    root = (tmp_path / "knowledge").resolve()
    (root / "notes").mkdir(parents=True)
    (root / "faq.csv").write_text(
        "question,context\n"
        "What is a vector store?,A database that searches by similarity of embeddings.\n"
        "What is chunking?,Splitting documents into pieces that fit the embedding model.\n"
        "What is HNSW?,A graph index for approximate nearest neighbour search.\n"
    )
    (root / "notes" / "volcanoes.md").write_text("# Volcanoes\n\n" + long_text("volcanoes", 30))
    (root / "notes" / "oceans.txt").write_text(long_text("oceans", 12))
    (root / "data.json").write_text('[{"name": "Ada", "field": "maths"}, {"name": "Alan", "field": "computing"}]')
    (root / "image.png").write_bytes(b"\x89PNG")
    (root / ".hidden.md").write_text("never ingested")
    return root
