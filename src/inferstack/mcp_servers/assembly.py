"""What every inferstack MCP server shares: the HTTP app (MCP at `/mcp` and `/mcp/`, `GET /health`,
`GET /metrics`) and running it over streamable HTTP (uvicorn, graceful SIGTERM) or over stdio.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server import MCPServer
from prometheus_client import CONTENT_TYPE_LATEST, Gauge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from inferstack.http.responses import json_response
from inferstack.http.server import uvicorn_server
from inferstack.mcp_servers.tool_calls import ToolCalls

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
GRACEFUL_SHUTDOWN_S = 10
# A stateful MCP session ends when its client sends DELETE; one that never does (a health check's bare
# `initialize`, a client that timed out) would otherwise be held until the server stops.
SESSION_IDLE_TIMEOUT_S = 300.0

# (ready, details): details are merged into the /health body; never put secrets in them.
HealthProbe = Callable[[], tuple[bool, dict[str, Any]]]


@dataclass(frozen=True)
class McpService:
    """One MCP server ready to run: its SDK server, its tool-call metrics and its readiness probe."""

    name: str
    server: MCPServer[Any]
    tool_calls: ToolCalls
    health: HealthProbe


def build_http_app(service: McpService, *, host: str, session_idle_s: float = SESSION_IDLE_TIMEOUT_S) -> Starlette:
    """The ASGI app: MCP streamable HTTP at `/mcp` (and `/mcp/`) plus `/health` and `/metrics`; sessions idle for
    `session_idle_s` are closed. Build it once per service."""

    async def health(_: Request) -> Response:
        ready, details = service.health()
        body = {"status": "ok" if ready else "unavailable", "service": service.name, **details}
        return json_response(body, status_code=200 if ready else 503)

    async def metrics(_: Request) -> Response:
        return Response(service.tool_calls.render(), media_type=CONTENT_TYPE_LATEST)

    service.server.custom_route("/health", methods=["GET"])(health)
    service.server.custom_route("/metrics", methods=["GET"])(metrics)
    # On a loopback host the SDK also turns on DNS-rebinding protection (Host and Origin must be loopback).
    app = service.server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    _serve_trailing_slash(app)
    _expire_idle_sessions(service, session_idle_s)
    _forget_deleted_sessions(app, service)
    return app


def _expire_idle_sessions(service: McpService, idle_s: float) -> None:
    """Close sessions idle for `idle_s` (the SDK's option, read when a session starts) and report the open
    sessions and the timeout in /metrics."""
    manager = service.server.session_manager
    manager.session_idle_timeout = idle_s
    registry = service.tool_calls.registry
    open_sessions = Gauge(
        "inferstack_mcp_sessions", "Open MCP sessions (closed by DELETE or when idle)", registry=registry
    )
    open_sessions.set_function(lambda: len(manager._server_instances))  # the SDK has no public count
    idle = Gauge(
        "inferstack_mcp_session_idle_timeout_seconds", "Idle time after which a session is closed", registry=registry
    )
    idle.set(idle_s)


def _forget_deleted_sessions(app: Starlette, service: McpService) -> None:
    """After a DELETE, drop terminated sessions from the SDK's table: mcp 2.1.1 terminates a deleted session's
    transport but keeps it in `_server_instances` for good, so a client that opens and closes a session per tool
    call (the agent does) would grow the server without bound."""
    manager = service.server.session_manager

    def forget() -> None:
        for session_id, transport in list(manager._server_instances.items()):
            if transport.is_terminated:
                manager._server_instances.pop(session_id, None)
                manager._session_owners.pop(session_id, None)

    for route in app.router.routes:
        if isinstance(route, Route) and route.path in (MCP_PATH, MCP_PATH + "/"):
            route.app = _after_delete(route.app, forget)


def _after_delete(inner: ASGIApp, then: Callable[[], None]) -> ASGIApp:
    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await inner(scope, receive, send)
        finally:
            if scope.get("method") == "DELETE":
                then()

    return call


def _serve_trailing_slash(app: Starlette) -> None:
    """Answer `/mcp/` like `/mcp` instead of Starlette's 307 redirect: clients that probe `<url>/mcp/` with a
    POST (the reference app's health check does) would not follow a redirect that must repeat the body."""
    [mcp_route] = [route for route in app.router.routes if isinstance(route, Route) and route.path == MCP_PATH]
    app.router.routes.append(Route(MCP_PATH + "/", endpoint=mcp_route.endpoint, methods=mcp_route.methods))


def run_http(service: McpService, *, host: str, port: int) -> int:
    """Serve until SIGTERM or SIGINT; open requests get `GRACEFUL_SHUTDOWN_S` seconds to finish."""
    server = uvicorn_server(build_http_app(service, host=host), host=host, port=port, graceful_s=GRACEFUL_SHUTDOWN_S)
    log.info("%s MCP server: http://%s:%d%s", service.name, host, port, MCP_PATH)
    server.run()
    return 0


def log_to_stderr() -> None:
    """Move stdout log handlers to stderr: over stdio, stdout carries the protocol and nothing else."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


def run_stdio(service: McpService) -> int:
    """Serve one client over stdin/stdout until the client closes stdin, the way MCP ends a stdio session.

    SIGTERM keeps its default action (exit at once): while stdin is open a blocking read holds the loop,
    so a handler could not stop the server any sooner or more cleanly.
    """
    log.info("%s MCP server on stdio", service.name)
    anyio.run(service.server.run_stdio_async)
    return 0
