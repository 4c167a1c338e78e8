"""Build the configured `Engine` and `EmbeddingEngine` by name; heavy modules are imported only when chosen."""

from __future__ import annotations

from inferstack.core.errors import InvalidRequestError
from inferstack.serving.engines.base import EmbeddingEngine, Engine
from inferstack.serving.model_files import resolve_embedding_model, resolve_gguf
from inferstack.serving.settings import ServeSettings


def build_engine(settings: ServeSettings) -> Engine:
    if settings.engine == "fake":
        from inferstack.serving.engines.fake import FakeEngine

        return FakeEngine(
            model_id=settings.served_model_name or "fake-model",
            context_length=settings.ctx_size,
            slots=settings.parallel,
        )
    if settings.engine == "llamacpp":
        from inferstack.serving.engines.llamacpp import LlamaCppConfig, LlamaCppEngine

        path, model_id = resolve_gguf(settings.model)
        return LlamaCppEngine(
            LlamaCppConfig(
                model_path=path,
                model_id=settings.served_model_name or model_id,
                ctx_size=settings.ctx_size,
                parallel=settings.parallel,
                threads=settings.threads,
                max_pending=settings.max_queue,
            )
        )
    if settings.engine == "vllm":
        from inferstack.serving.engines.vllm import VllmEngine, vllm_config

        return VllmEngine(vllm_config(settings))
    raise InvalidRequestError(f"unknown engine '{settings.engine}'", param="engine")


def build_embedding_engine(settings: ServeSettings) -> EmbeddingEngine | None:
    if not settings.embeddings:
        return None
    if settings.engine == "fake":
        from inferstack.serving.engines.fake import FakeEmbeddingEngine

        return FakeEmbeddingEngine()
    from inferstack.serving.engines.sentence_transformers_engine import (
        SentenceTransformerConfig,
        SentenceTransformerEngine,
    )

    model, model_id = resolve_embedding_model(settings.embedding_model)
    return SentenceTransformerEngine(
        SentenceTransformerConfig(model=model, model_id=model_id, threads=settings.threads)
    )
