"""Inbound trace context: a pure-ASGI middleware that continues the caller's W3C `traceparent`/`tracestate`.

Each HTTP request becomes a SERVER span whose parent is the caller's span, so work done while handling it (and
every outbound call that injects the current context) joins the caller's trace. The span is named
`{method} {route}` by the route template once the app has routed the request (`GET /ingest/{job_id}`, never the
raw id, as OpenTelemetry's HTTP conventions ask), `{method} {path}` where no route is known (the gateway's proxy
fast path, whose paths are fixed). Probes and `/favicon.ico` are never traced; GET polls of a job's status are
traced only when the caller sent a trace context, i.e. when they are part of a trace someone started.
`trace_layers()` returns no layer at all while tracing is off: a service without tracing pays nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inferstack.observability.tracing import tracing_enabled

tracer = trace.get_tracer("inferstack.http")
# Probes are not traced: the gateway checks each deployment's /v1/models every few seconds.
UNTRACED_PATHS = frozenset(
    {
        "/health",
        "/healthz",
        "/ready",
        "/readyz",
        "/metrics",
        "/health/readiness",
        "/health/liveness",
        "/v1/models",
        "/favicon.ico",
    }
)
# Job-status polls (the agent's ingest jobs, idp's documents, the agent's /status) and the web console's own
# page loads and reads (GET /ui/…): a client polls or refreshes them every second or so, and each would be a trace
# of its own among the API traffic the Traces page is for.
POLL_PATHS = re.compile(r"/status|/ingest/[^/]+|/v1/documents/[^/]+|/ui(/.*)?")
_CONVERTOR = re.compile(r"\{([^}:]+):[^}]+\}")


def headers_carrier(scope: Scope) -> dict[str, str]:
    """The propagation headers of an ASGI request (names are lowercase in ASGI)."""
    wanted = (b"traceparent", b"tracestate", b"baggage")
    return {name.decode(): value.decode("latin-1") for name, value in scope["headers"] if name in wanted}


def _routed(scope: Scope) -> object:
    """The route that took the request: FastAPI's routes put themselves in the scope; a plain Starlette route
    added to a FastAPI app leaves only its endpoint there, so it is found among the app's routes."""
    route = scope.get("route")
    if route is not None and not isinstance(route, Mount):
        return route
    endpoint, app = scope.get("endpoint"), scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", None)
    if endpoint is None or not isinstance(routes, list):
        return None
    path, root = str(scope["path"]), str(scope.get("root_path", ""))
    route_path = path[len(root) :] if root and path.startswith(root + "/") else path
    for candidate in routes:
        if isinstance(candidate, Route) and candidate.endpoint is endpoint and candidate.path_regex.match(route_path):
            return candidate
    return None


def route_template(scope: Scope) -> str | None:
    """The template of the route that handled a request (`/ingest/{job_id}`, a mount's prefix included), or
    None before routing, for an unmatched path and for a mounted app without routes of its own."""
    route = _routed(scope)
    path = getattr(route, "path", None)
    if not isinstance(path, str) or isinstance(route, Mount):
        return None
    prefix = str(scope.get("root_path", ""))[len(str(scope.get("app_root_path", ""))) :]
    return prefix + _CONVERTOR.sub(r"{\1}", path)


class TraceContext:
    """Extract the caller's context and wrap the request in a SERVER span."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        untraced_paths: Iterable[str] = UNTRACED_PATHS,
        poll_paths: re.Pattern[str] = POLL_PATHS,
    ) -> None:
        self.app = app
        self._untraced = frozenset(untraced_paths)
        self._polls = poll_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # FastAPI's own telemetry would open a second SERVER span beside this one; the key turns it off.
        scope["fastapi.telemetry"] = None
        path = scope["path"]
        if path in self._untraced:
            await self.app(scope, receive, send)
            return
        parent = propagate.extract(headers_carrier(scope))
        method = scope.get("method", "GET")
        joins_a_trace = trace.get_current_span(parent).get_span_context().is_valid
        if method == "GET" and self._polls.fullmatch(path) and not joins_a_trace:
            await self.app(scope, receive, send)
            return
        with tracer.start_as_current_span(
            f"{method} {path}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        ) as span:
            status = 500
            named = False

            def name_by_route() -> None:
                nonlocal named
                if named:
                    return
                named = True
                template = route_template(scope)
                if template is not None:
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    name_by_route()
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                        span.set_attribute("error.type", str(status))
                await send(message)

            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                name_by_route()  # when the app raised before it started a response


def trace_layers() -> list[type[TraceContext]]:
    """The tracing middleware to put outermost, or none when tracing is off."""
    return [TraceContext] if tracing_enabled() else []
