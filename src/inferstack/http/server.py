"""How every inferstack service runs under uvicorn: our logging (not uvicorn's), no access log, lifespan on,
a deadline on request headers (slow clients), and a bounded graceful drain on SIGTERM."""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.types import ASGIApp

from inferstack.http.slow_clients import HeaderDeadlineProtocol

GRACEFUL_SHUTDOWN_S = 30


def uvicorn_options(*, host: str, port: int, graceful_s: float = GRACEFUL_SHUTDOWN_S) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.Config` / `uvicorn.run` shared by all services."""
    return {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": graceful_s,
        "lifespan": "on",
        "http": HeaderDeadlineProtocol,
    }


def uvicorn_server(app: ASGIApp, *, host: str, port: int, graceful_s: float = GRACEFUL_SHUTDOWN_S) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, **uvicorn_options(host=host, port=port, graceful_s=graceful_s)))
