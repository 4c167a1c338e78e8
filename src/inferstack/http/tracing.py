"""Inbound trace context: a pure-ASGI middleware that continues the caller's W3C `traceparent`/`tracestate`.

Each HTTP request becomes a SERVER span `{method} {path}` whose parent is the caller's span, so work done
while handling it (and every outbound call that injects the current context) joins the caller's trace.
`trace_layers()` returns no layer at all while tracing is off: a service without tracing pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inferstack.observability.tracing import tracing_enabled

tracer = trace.get_tracer("inferstack.http")
# Probes are not traced: the gateway checks each deployment's /v1/models every few seconds.
UNTRACED_PATHS = frozenset(
    {"/health", "/healthz", "/ready", "/readyz", "/metrics", "/health/readiness", "/health/liveness", "/v1/models"}
)


def headers_carrier(scope: Scope) -> dict[str, str]:
    """The propagation headers of an ASGI request (names are lowercase in ASGI)."""
    wanted = (b"traceparent", b"tracestate", b"baggage")
    return {name.decode(): value.decode("latin-1") for name, value in scope["headers"] if name in wanted}


class TraceContext:
    """Extract the caller's context and wrap the request in a SERVER span."""

    def __init__(self, app: ASGIApp, *, untraced_paths: Iterable[str] = UNTRACED_PATHS) -> None:
        self.app = app
        self._untraced = frozenset(untraced_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # FastAPI's own telemetry would open a second SERVER span beside this one; the key turns it off.
        scope["fastapi.telemetry"] = None
        if scope["path"] in self._untraced:
            await self.app(scope, receive, send)
            return
        parent = propagate.extract(headers_carrier(scope))
        method = scope.get("method", "GET")
        path = scope["path"]
        with tracer.start_as_current_span(
            f"{method} {path}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        ) as span:
            status = 500

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                        span.set_attribute("error.type", str(status))
                await send(message)

            await self.app(scope, receive, send_wrapper)


def trace_layers() -> list[type[TraceContext]]:
    """The tracing middleware to put outermost, or none when tracing is off."""
    return [TraceContext] if tracing_enabled() else []
