"""Assemble the IDP service: pipeline, job store, workers, routes, errors, middleware."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from inferstack.http.service_app import service_app
from inferstack.idp import routes
from inferstack.idp.jobs import DocumentJobs
from inferstack.idp.metrics import IdpMetrics
from inferstack.idp.model_client import ModelClient
from inferstack.idp.pipeline import DocumentPipeline
from inferstack.idp.routes import IdpState
from inferstack.idp.settings import IdpSettings
from inferstack.observability.tracing import shutdown_tracing
from inferstack.tools.ocr import RapidOcrReader

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/health", "/ready", "/metrics")
# Multipart framing and the `schema` field on top of the largest document.
_FORM_OVERHEAD_BYTES = 64 * 1024


def model_client(settings: IdpSettings) -> ModelClient | None:
    if settings.extractor == "rules" and settings.reader == "ocr" and settings.reflection_model is None:
        return None
    return ModelClient(
        base_url=settings.model_base_url,
        api_key=settings.api_key.get_secret_value() if settings.api_key is not None else None,
        timeout_s=settings.model_timeout_s,
        retries=settings.model_retries,
        max_tokens=settings.max_tokens,
    )


def build_app(settings: IdpSettings) -> ASGIApp:
    metrics = IdpMetrics()
    store = settings.open_store()
    model = model_client(settings)
    ocr = RapidOcrReader()
    pipeline = DocumentPipeline(settings, model=model, ocr=ocr)
    jobs = DocumentJobs(pipeline, store, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        warm = asyncio.create_task(asyncio.to_thread(ocr.warm))
        log.info(
            "idp ready: extractor=%s reader=%s model=%s store=%s worker=%s",
            settings.extractor,
            settings.reader,
            settings.model,
            store.location,
            jobs.worker_id,
        )
        try:
            yield
        finally:
            await jobs.stop()
            await asyncio.gather(warm, return_exceptions=True)
            if model is not None:
                await model.aclose()
            await asyncio.to_thread(store.close)
            shutdown_tracing()

    return service_app(
        "inferstack idp",
        lifespan=lifespan,
        state={"idp": IdpState(jobs=jobs, store=store, metrics=metrics, ocr=ocr)},
        routers=[routes.router],
        route_paths=routes.ROUTE_PATHS,
        metrics=metrics,
        max_body_bytes=settings.max_file_bytes + _FORM_OVERHEAD_BYTES,
        api_key=settings.server_api_key,
        public_paths=PUBLIC_PATHS,
    )
