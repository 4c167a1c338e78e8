"""Build the agent's knowledge dependencies from the `knowledge` section: store, embedder, ingestion pipeline.

The agent owns the store while it runs (Milvus Lite admits one process per database), so POST /ingest runs the
ingestion pipeline here, in-process. This is the one module of `agents` that imports `ingestion`.
"""

from __future__ import annotations

import datetime as dt

from inferstack.agents.app import AgentDependencies
from inferstack.retrieval.factory import build_embedder, build_vector_store
from inferstack.retrieval.ingestion.standalone import build_pipeline, manifest_path
from inferstack.retrieval.settings import KnowledgeSettings
from inferstack.sample_knowledge import documents_dir


def knowledge_dependencies(knowledge: KnowledgeSettings) -> AgentDependencies:
    store = build_vector_store(knowledge)
    embedder = build_embedder(knowledge)
    manifest = manifest_path(knowledge)
    last_updated = dt.datetime.fromtimestamp(manifest.stat().st_mtime, dt.UTC) if manifest.is_file() else None
    return AgentDependencies(
        store=store,
        embedder=embedder,
        ingest=build_pipeline(knowledge, store, embedder),
        default_ingest_roots=(knowledge.data_dir / "documents", documents_dir()),
        summary=knowledge.summary(),
        last_updated=last_updated,
    )
