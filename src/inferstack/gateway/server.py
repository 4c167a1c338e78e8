"""Run the gateway under uvicorn: one process by default, or N worker processes sharing the port.

Workers each hold their own in-memory limits and metrics; keys and spend are shared through the database
(synced every `key_sync_interval_s`), and the response cache is shared when it is Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import uvicorn

from inferstack.gateway.app import build_app
from inferstack.gateway.config_file import load_gateway_settings
from inferstack.gateway.keys.database import Database
from inferstack.gateway.keys.migrations import migrate
from inferstack.gateway.settings import GatewaySettings
from inferstack.http.server import uvicorn_options, uvicorn_server
from inferstack.observability.logging import configure_logging
from inferstack.observability.tracing import configure_tracing
from inferstack.observability.tracing_settings import TracingSettings, load_tracing_settings

log = logging.getLogger(__name__)

_WORKER_CONFIG = "_INFERSTACK_GATEWAY_WORKER_CONFIG"


def run_gateway(settings: GatewaySettings, config_path: Path | None, overrides: dict[str, Any]) -> int:
    tracing = gateway_tracing(settings, config_path)
    configure_tracing(tracing, "gateway")
    if settings.workers == 1:
        server = uvicorn_server(
            build_app(settings, trace_store=_trace_store(tracing), langfuse_host=tracing.langfuse.host),
            host=settings.host,
            port=settings.port,
        )
        server.run()
        return 0 if server.started else 1
    # Migrate once here so workers never race on the schema.
    url = settings.database_url.get_secret_value() if settings.database_url else None
    asyncio.run(_migrate(Database.open(url, settings.data_dir)))
    os.environ[_WORKER_CONFIG] = json.dumps({"path": str(config_path) if config_path else None, "overrides": overrides})
    uvicorn.run(
        "inferstack.gateway.server:worker_app",
        factory=True,
        workers=settings.workers,
        **uvicorn_options(host=settings.host, port=settings.port),
    )
    return 0


async def _migrate(db: Database) -> None:
    try:
        await migrate(db)
    finally:
        await db.close()


def worker_app() -> Any:
    """Factory each worker process calls: rebuild the same settings from the same file and env."""
    spec = json.loads(os.environ[_WORKER_CONFIG])
    path = Path(spec["path"]) if spec["path"] else None
    settings, _ = load_gateway_settings(path, spec["overrides"], os.environ)
    configure_logging(settings.log_level, service=f"gateway[{os.getpid()}]")
    tracing = gateway_tracing(settings, path)
    configure_tracing(tracing, "gateway")
    return build_app(settings, trace_store=_trace_store(tracing), langfuse_host=tracing.langfuse.host)


def _trace_store(tracing: TracingSettings) -> Path | None:
    """The local trace store's file, for the console's traces page (None when no store is configured)."""
    return Path(tracing.store.path) if tracing.store.path else None


def gateway_tracing(settings: GatewaySettings, config_path: Path | None) -> TracingSettings:
    """The stack's `observability` section; the gateway's own `tracing` field still picks an exporter alone."""
    tracing = load_tracing_settings(config_path, os.environ)
    if tracing.exporter == "none" and settings.tracing != "none":
        tracing = tracing.model_copy(update={"exporter": settings.tracing})
    return tracing
