"""Assembles the gateway app: services on `app.state`, routes, middleware, and their start/stop order."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from fastapi import FastAPI
from starlette.types import ASGIApp

from inferstack.core.errors import OverloadedError
from inferstack.gateway.cache.base import ResponseCache
from inferstack.gateway.cache.memory import MemoryCache
from inferstack.gateway.console.agent import AgentClient
from inferstack.gateway.console.replay import trace_link_bases
from inferstack.gateway.console.routes import build_console
from inferstack.gateway.console.service import ConsoleService
from inferstack.gateway.console.sessions import SessionTable
from inferstack.gateway.dependency_health import DependencyHealth
from inferstack.gateway.fast_path import ProxyFastPath
from inferstack.gateway.guardrails.pipeline import GuardrailSet
from inferstack.gateway.keys.database import Database, DatabaseError
from inferstack.gateway.keys.registry import NEGATIVE_MAX, KeyRegistry, run_periodic_sync
from inferstack.gateway.keys.store import KeyStore
from inferstack.gateway.limits import KeyLimiter
from inferstack.gateway.limits.redis_limiter import MAX_PENDING_CHARGES
from inferstack.gateway.metrics import GatewayMetrics, budget_views, deployment_views
from inferstack.gateway.openapi_routes import PROXY_OPENAPI_ROUTES
from inferstack.gateway.proxy import ProxyService
from inferstack.gateway.routes import health, keys
from inferstack.gateway.routes.openai import register_openai_routes
from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.routing.health_checks import check_once, run_health_checks
from inferstack.gateway.routing.router import Router
from inferstack.gateway.settings import GatewaySettings
from inferstack.gateway.upstreams.aiohttp_upstream import AiohttpUpstream
from inferstack.gateway.upstreams.base import UpstreamFailure
from inferstack.gateway.usage_writer import UsageWriter
from inferstack.http.errors import install_error_handlers
from inferstack.http.middleware import BodySizeLimit, RequestMetrics, build_middleware
from inferstack.http.openapi import document_bare_routes
from inferstack.http.tracing import trace_layers
from inferstack.observability.tracing import shutdown_tracing, tracing_enabled

log = logging.getLogger(__name__)

_METRIC_ROUTES = (
    "/v1/models",
    "/models",
    "/key/generate",
    "/key/info",
    "/key/list",
    "/key/update",
    "/key/delete",
    "/spend/logs",
)


def _model_guardrails(settings: GatewaySettings) -> dict[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for deployment in settings.model_list:
        names = merged.get(deployment.model_name, ())
        merged[deployment.model_name] = names + tuple(n for n in deployment.guardrails if n not in names)
    return merged


def _cache(settings: GatewaySettings) -> tuple[ResponseCache | None, str]:
    if not settings.cache.enabled:
        return None, "disabled"
    cache = ResponseCache.create(settings.cache)  # registered by name (gateway/cache/base.py)
    return cache, cache.name


class GatewayStartError(OverloadedError):
    """A configured store or cache cannot be reached at start: the gateway refuses to run without it."""

    default_code = "gateway_start_failed"


async def _check_backends(store: KeyStore, cache: ResponseCache | None, limiter: KeyLimiter) -> list[str]:
    """Open the key store and reach the cache, loudly: a configured database or Redis that cannot be reached
    stops the start instead of leaving a gateway with a weaker setup than the one configured."""
    try:
        applied = await store.open()
    except DatabaseError as exc:
        message = f"the key database ({store.db.description}) cannot be reached: {exc.message}"
        log.error("cannot start: %s", message)
        raise GatewayStartError(message) from None
    if cache is not None and cache.health is not None and not await cache.ping():
        message = (
            f"the Redis cache at {cache.description} cannot be reached (cache.redis_url, or cache_params / "
            "REDIS_HOST, REDIS_PORT, REDIS_PASSWORD in a LiteLLM config); start it or turn the cache off"
        )
        log.error("cannot start: %s", message)
        raise GatewayStartError(message)
    if limiter.health is not None and not await limiter.ping():
        message = f"the Redis of the shared key limits at {limiter.description} cannot be reached (limits.redis_url)"
        log.error("cannot start: %s", message)
        raise GatewayStartError(message)
    return applied


def _log_key_mode(registry: KeyRegistry) -> None:
    if registry.has_master_key:
        return
    if registry.open_proxy:
        log.warning(
            "no master key: the gateway is an OPEN PROXY: every request is served, with any key or none "
            "(LiteLLM's behaviour without a master key); set general_settings.master_key or LITELLM_MASTER_KEY "
            "to require keys"
        )
    else:
        log.warning(
            "no master key: only virtual keys from `inferstack keys create` are accepted and the key API "
            "(/key/*) is off; set INFERSTACK_GATEWAY_MASTER_KEY to manage keys over HTTP"
        )


def _watch_bounds(
    metrics: GatewayMetrics,
    settings: GatewaySettings,
    registry: KeyRegistry,
    usage: UsageWriter,
    cache: ResponseCache | None,
) -> None:
    """Every queue and cache this process holds, with its bound, in /metrics."""
    metrics.watch_bound("usage_rows_pending", lambda: usage.pending, settings.usage_max_pending_rows)
    # Past the bound, totals of a new time bucket merge into the newest pending one of their key and model.
    metrics.watch_bound("usage_totals_pending", lambda: usage.pending_totals, usage.max_pending_totals)
    metrics.watch_bound("key_registry", lambda: registry.size, settings.max_cached_keys)
    metrics.watch_bound("key_negative_cache", lambda: registry.unknown_size, NEGATIVE_MAX)
    if registry.limiter.health is not None:  # a shared limiter: charges wait for the next round trip to Redis
        limiter = registry.limiter
        metrics.watch_bound("limits_charges_pending", lambda: limiter.pending_charges, MAX_PENDING_CHARGES)
    if isinstance(cache, MemoryCache):
        memory_cache = cache
        metrics.watch_bound("response_cache", lambda: len(memory_cache), settings.cache.max_entries)
    metrics.usage_rows_dropped.set_function(lambda: usage.rows_dropped)


def _dependencies(
    metrics: GatewayMetrics, store: KeyStore, cache: ResponseCache | None, limiter: KeyLimiter
) -> list[DependencyHealth]:
    """The external services this gateway runs with, each with an up/down gauge in /metrics."""
    dependencies = [store.db.health] + ([cache.health] if cache is not None and cache.health is not None else [])
    dependencies += [limiter.health] if limiter.health is not None else []
    for dependency in dependencies:
        metrics.dependency_up.labels(dependency.name).set_function(_is_up(dependency))
    return dependencies


def _is_up(dependency: DependencyHealth) -> Callable[[], float]:
    return lambda: float(dependency.up)


def build_app(settings: GatewaySettings, *, trace_store: Path | None = None, langfuse_host: str = "") -> ASGIApp:
    """The gateway as an ASGI app; everything connects in the lifespan, so building it does no I/O."""
    metrics = GatewayMetrics()
    guardrails = GuardrailSet(settings.guardrails, _model_guardrails(settings))

    def on_failure(deployment: Deployment, failure: UpstreamFailure, opened: bool) -> None:
        if opened:
            metrics.cooldowns.labels(deployment.id).inc()

    router = Router(settings.model_list, settings.router, on_failure=on_failure)
    database_url = settings.database_url.get_secret_value() if settings.database_url else None
    store = KeyStore(Database.open(database_url, settings.data_dir))
    master = settings.master_key.get_secret_value() if settings.master_key else None
    cache_redis_url = settings.cache.redis_url.get_secret_value() if settings.cache.redis_url else None
    limiter = KeyLimiter.create(settings.limits, cache_redis_url)  # registered by name (gateway/limits/base.py)
    registry = KeyRegistry(
        store,
        master_key=master,
        require_keys=settings.require_keys,
        max_keys=settings.max_cached_keys,
        limiter=limiter,
    )
    usage = UsageWriter(
        store,
        interval_s=settings.usage_flush_interval_s,
        max_pending_rows=settings.usage_max_pending_rows,
        bucket_s=settings.usage_bucket_s,
        on_flushed=registry.flushed,
    )
    upstream = AiohttpUpstream()
    cache, cache_description = _cache(settings)
    _watch_bounds(metrics, settings, registry, usage, cache)
    metrics.watch_deployments(lambda: deployment_views(router))
    metrics.watch_budgets(lambda: budget_views(registry))
    dependencies = _dependencies(metrics, store, cache, limiter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        applied = await _check_backends(store, cache, limiter)
        _log_key_mode(registry)
        if applied:
            log.info("key store %s: applied migrations %s", store.db.description, ", ".join(applied))
        await registry.load()
        await upstream.start()
        usage.start()
        tasks = [
            asyncio.create_task(
                run_periodic_sync(registry, settings.key_sync_interval_s, usage.settled), name="key-sync"
            )
        ]
        if settings.router.health_check_interval_s > 0:
            await check_once(router, upstream, settings.router.health_check_timeout_s)
            tasks.append(
                asyncio.create_task(
                    run_health_checks(
                        router,
                        upstream,
                        settings.router.health_check_interval_s,
                        settings.router.health_check_timeout_s,
                    ),
                    name="health-checks",
                )
            )
        app.state.started = True
        # Everything allocated at start-up lives as long as the process: keep it out of every later GC pass
        # (full collections over it cost tens of ms under load).
        gc.collect()
        gc.freeze()
        log.info(
            "gateway ready: %d models, %d deployments, keys in %s, cache %s, key limits in %s",
            len(router.models),
            len(router.all_deployments()),
            store.db.description,
            cache_description,
            limiter.description,
        )
        try:
            yield
        finally:
            app.state.started = False
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task
            await usage.close()
            await console.close()
            await upstream.close()
            if cache is not None:
                await cache.close()
            await limiter.close()
            await store.close()
            shutdown_tracing()

    app = FastAPI(title="inferstack gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.started = False
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.router = router
    app.state.key_store = store
    app.state.registry = registry
    app.state.usage = usage
    app.state.guardrails = guardrails
    app.state.cache_description = cache_description
    app.state.dependencies = dependencies
    app.state.proxy = proxy = ProxyService(
        router=router,
        upstream=upstream,
        registry=registry,
        usage=usage,
        guardrails=guardrails,
        metrics=metrics,
        cache=cache,
        cache_config=settings.cache,
        tracing=tracing_enabled(),
    )
    install_error_handlers(app)
    register_openai_routes(app)
    app.include_router(keys.router)
    app.include_router(health.router)
    agent_key = settings.console.agent_api_key
    agent = AgentClient(settings.console.agent_url, agent_key.get_secret_value() if agent_key else None)
    links = trace_link_bases(settings.console.langfuse_url, settings.console.phoenix_url, langfuse_host)
    app.state.console = console = ConsoleService(
        registry,
        router.health,
        sessions=SessionTable(store.db),
        trace_store=trace_store,
        agent=agent if settings.console.agent_url else None,
        trace_link_bases=links,
    )
    app.mount("/ui", build_console(console))  # the web console (gateway/console/)
    document_bare_routes(app, PROXY_OPENAPI_ROUTES)
    # The proxy routes come first and count themselves (per model/deployment/status); everything else gets
    # the generic request metrics and body limit.
    return build_middleware(
        app,
        [
            *trace_layers(),
            lambda inner: ProxyFastPath(inner, proxy, max_body_bytes=settings.max_body_bytes),
            lambda inner: RequestMetrics(
                inner, requests=metrics.http_requests, seconds=metrics.http_seconds, routes=_METRIC_ROUTES
            ),
            lambda inner: BodySizeLimit(inner, max_bytes=settings.max_body_bytes),
        ],
    )
