"""Assemble the model server: engine + embedder + services, routes, error handling, middleware.

The model loads in the background after the socket opens, so `/health` can answer 503 while loading
(a Kubernetes readiness probe sees "not ready", not "connection refused").
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from starlette.types import ASGIApp

from inferstack.core.errors import ModelNotFoundError, OverloadedError
from inferstack.http.openapi import document_bare_routes
from inferstack.http.service_app import service_app
from inferstack.observability.serving_metrics import ServingMetrics
from inferstack.serving import model_routes, routes
from inferstack.serving.admission import Admission
from inferstack.serving.chat_service import ChatService
from inferstack.serving.completion_service import CompletionService
from inferstack.serving.embedding_service import EmbeddingService
from inferstack.serving.embedding_token_ids import TokenIdDecoder
from inferstack.serving.engines.base import EmbeddingEngine, Engine
from inferstack.serving.engines.registry import build_embedding_engine, build_engine
from inferstack.serving.fast_path import GenerationFastPath
from inferstack.serving.generation import MeteredGeneration
from inferstack.serving.image_input import OcrImageInput
from inferstack.serving.openapi_routes import GENERATION_OPENAPI_ROUTES
from inferstack.serving.responses_service import ResponsesService
from inferstack.serving.settings import ServeSettings

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/health", "/metrics")


@dataclass
class ServerState:
    settings: ServeSettings
    engine: Engine
    embedder: EmbeddingEngine | None
    metrics: ServingMetrics
    chat: ChatService
    completions: CompletionService
    embeddings: EmbeddingService | None
    responses: ResponsesService
    status: str = "loading"
    error: str | None = None
    _load_task: asyncio.Task[None] | None = field(default=None, repr=False)

    def require_ready(self) -> None:
        if self.status != "ready":
            raise OverloadedError(f"the model is {self.status}; retry shortly", retry_after=2.0)

    def chat_model(self, name: str) -> str:
        self.require_ready()
        if name != self.engine.info.model_id:
            raise ModelNotFoundError(
                f"model '{name}' is not served here; this server serves '{self.engine.info.model_id}'",
                param="model",
            )
        return name

    def embedding_model(self, name: str) -> tuple[str, EmbeddingService]:
        self.require_ready()
        if self.embedder is None or self.embeddings is None:
            raise ModelNotFoundError(
                "this server has no embedding model (started with embeddings disabled)", param="model"
            )
        if name != self.embedder.info.model_id and name not in self.settings.embedding_served_model_name:
            raise ModelNotFoundError(
                f"embedding model '{name}' is not served here; this server serves '{self.embedder.info.model_id}'",
                param="model",
            )
        return name, self.embeddings


def image_input(settings: ServeSettings) -> OcrImageInput | None:
    """The OCR adapter for image_url parts when `serve.image_input: ocr` (needs the idp extra: rapidocr)."""
    return OcrImageInput() if settings.image_input == "ocr" else None


def build_app(
    settings: ServeSettings,
    *,
    engine: Engine | None = None,
    embedder: EmbeddingEngine | None = None,
    on_fatal: Callable[[str], None] | None = None,
) -> ASGIApp:
    engine = engine if engine is not None else build_engine(settings)
    embedder = embedder if embedder is not None else build_embedding_engine(settings)
    metrics = ServingMetrics(engine.info.model_id)
    admission = Admission(slots=engine.info.slots, max_queue=settings.max_queue, metrics=metrics)
    generation = MeteredGeneration(engine, admission, metrics)
    chat = ChatService(
        engine, generation, max_tokens_policy=settings.max_tokens_policy, image_input=image_input(settings)
    )
    state = ServerState(
        settings=settings,
        engine=engine,
        embedder=embedder,
        metrics=metrics,
        chat=chat,
        completions=CompletionService(engine, generation, max_tokens_policy=settings.max_tokens_policy),
        embeddings=EmbeddingService(
            embedder,
            metrics,
            token_ids=TokenIdDecoder(settings.embedding_token_ids),
            truncate_prompt_tokens=settings.embedding_truncate_prompt_tokens,
        )
        if embedder is not None
        else None,
        responses=ResponsesService(chat),
    )

    async def load() -> None:
        try:
            # Both loads run in worker threads (native code mostly): load them side by side.
            await asyncio.gather(engine.start(), *([embedder.start()] if embedder is not None else []))
        except Exception as exc:  # noqa: BLE001 - any load failure is fatal and must be reported
            state.status, state.error = "failed", str(exc)
            log.error("model load failed: %s", exc)
            if on_fatal is not None:
                on_fatal(str(exc))
            return
        # What start-up allocated (app, model bindings) lives as long as the process: keep it out of every
        # later GC pass, which otherwise walks it on the event loop between tokens.
        gc.collect()
        gc.freeze()
        # Known once the model is loaded (the vLLM engine learns max_model_len from its server).
        metrics.vllm.set_kv_capacity(engine.info.context_length * engine.info.slots)
        state.status = "ready"
        log.info("ready: model=%s engine=%s", engine.info.model_id, engine.info.kind)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state._load_task = asyncio.create_task(load())
        try:
            yield
        finally:
            state.status = "stopping"
            state._load_task.cancel()
            await engine.close()
            if embedder is not None:
                await embedder.close()

    def front(api: FastAPI) -> ASGIApp:
        document_bare_routes(api, GENERATION_OPENAPI_ROUTES)
        return GenerationFastPath(api, state)

    return service_app(
        "inferstack model server",
        lifespan=lifespan,
        state={"server": state},
        routers=[routes.router, model_routes.router],
        route_paths=routes.ROUTE_PATHS,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        api_key=settings.api_key,
        public_paths=PUBLIC_PATHS,
        front=front,
    )
