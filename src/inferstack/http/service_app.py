"""`service_app`: how every inferstack HTTP service (model server, agent, weather chat, document processing) is
put together — one FastAPI app with its routers and state, OpenAI-shaped errors, and the usual middleware
(trace context, request metrics, body limit, a Bearer key when one is configured) — so each service's own module
says only what is its own."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from fastapi import APIRouter, FastAPI
from prometheus_client import Counter, Histogram
from pydantic import SecretStr
from starlette.types import ASGIApp

from inferstack import __version__
from inferstack.http.errors import install_error_handlers
from inferstack.http.middleware import service_middleware


class ServiceMetrics(Protocol):
    """The request counter and latency histogram every service exports."""

    requests: Counter
    request_seconds: Histogram


def service_app(
    title: str,
    *,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    state: Mapping[str, object],
    routers: Sequence[APIRouter],
    route_paths: Iterable[str],
    metrics: ServiceMetrics,
    max_body_bytes: int,
    api_key: SecretStr | None,
    public_paths: Iterable[str],
    front: Callable[[FastAPI], ASGIApp] | None = None,
) -> ASGIApp:
    """The service's ASGI app. `state` lands on `app.state`; `front` may put a layer between the middleware
    and the FastAPI app (the model server's generation fast path)."""
    api = FastAPI(title=title, version=__version__, lifespan=lifespan)
    for name, value in state.items():
        setattr(api.state, name, value)
    for router in routers:
        api.include_router(router)
    install_error_handlers(api)
    return service_middleware(
        front(api) if front is not None else api,
        requests=metrics.requests,
        seconds=metrics.request_seconds,
        routes=route_paths,
        max_body_bytes=max_body_bytes,
        api_key=api_key.get_secret_value() if api_key is not None else None,
        public_paths=public_paths,
    )
