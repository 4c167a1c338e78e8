"""Assemble an `IngestionPipeline` from `KnowledgeSettings`, and run one ingestion with its own store and embedder.

`build_pipeline` is what an in-process owner of the store (the agent API) uses; `ingest_with_settings` (and
`list_sources_with_settings`, `remove_sources_with_settings`) are what `inferstack ingest` and `inferstack
knowledge` use when no agent is running: they open the store, do the work, and close everything.
"""

from __future__ import annotations

import re
from pathlib import Path

from inferstack.retrieval.embedders.base import Embedder
from inferstack.retrieval.factory import build_embedder, build_vector_store
from inferstack.retrieval.ingestion.catalog import KnowledgeCatalog, Removal, SourceEntry
from inferstack.retrieval.ingestion.chunking import Chunker, ChunkingConfig
from inferstack.retrieval.ingestion.pipeline import IngestionConfig, IngestionPipeline
from inferstack.retrieval.ingestion.progress import ProgressCallback
from inferstack.retrieval.ingestion.report import IngestReport
from inferstack.retrieval.ingestion.tokenizer import TextTokenizer
from inferstack.retrieval.settings import KnowledgeSettings
from inferstack.retrieval.stores.base import VectorStore


def manifest_path(settings: KnowledgeSettings) -> Path:
    """`<data_dir>/manifests/<store>-<collection>.json`: one manifest per collection, beside the local store."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{settings.store}-{settings.collection_name}")
    return settings.data_dir / "manifests" / f"{name}.json"


def build_pipeline(settings: KnowledgeSettings, store: VectorStore, embedder: Embedder) -> IngestionPipeline:
    chunker = Chunker(
        TextTokenizer(settings.tokenizer),
        ChunkingConfig(
            chunk_tokens=settings.chunk_tokens,
            overlap=settings.chunk_overlap,
            max_input_tokens=settings.embedding_max_tokens,
        ),
    )
    config = IngestionConfig(
        manifest_path=manifest_path(settings),
        collection=settings.collection_name,
        embedding_model=settings.embedding_model,
        batch_size=settings.batch_size,
        max_file_bytes=settings.max_file_bytes,
    )
    return IngestionPipeline(store, embedder, chunker, config)


async def ingest_with_settings(
    settings: KnowledgeSettings,
    target: Path,
    *,
    force: bool = False,
    api_key: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> IngestReport:
    """Open the configured store and embedder, ingest `target`, close both (also on failure)."""
    store = build_vector_store(settings)
    embedder = build_embedder(settings, api_key=api_key)
    try:
        pipeline = build_pipeline(settings, store, embedder)
        return await pipeline.run(target, force=force, on_progress=on_progress)
    finally:
        await embedder.close()
        await store.close()


async def list_sources_with_settings(settings: KnowledgeSettings) -> list[SourceEntry]:
    """The files the configured collection holds, from its manifest (the store itself is not queried)."""
    store = build_vector_store(settings)
    try:
        return await KnowledgeCatalog(store, manifest_path(settings)).entries()
    finally:
        await store.close()


async def remove_sources_with_settings(settings: KnowledgeSettings, selector: str) -> Removal:
    """Open the configured store, remove a source id or a folder's files, close the store."""
    store = build_vector_store(settings)
    try:
        return await KnowledgeCatalog(store, manifest_path(settings)).remove(selector)
    finally:
        await store.close()
