"""Small pure-ASGI middleware: request metrics, body size limit, bearer API key.

`build_middleware` assembles them in one readable order (outermost first).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable

import orjson
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inferstack.core.errors import AuthenticationError, InferstackError, PayloadTooLargeError
from inferstack.http.tracing import trace_layers
from inferstack.openai_api.errors import error_body_for


async def send_error(send: Send, exc: InferstackError) -> None:
    body = orjson.dumps(error_body_for(exc))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if exc.retry_after is not None:
        headers.append((b"retry-after", str(max(1, round(exc.retry_after))).encode()))
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestMetrics:
    """Counts requests by route and status and times them. Unknown paths count as `other`."""

    def __init__(self, app: ASGIApp, *, requests: Counter, seconds: Histogram, routes: Iterable[str]) -> None:
        self.app = app
        self._requests = requests
        self._seconds = seconds
        self._routes = frozenset(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in self._routes else "other"
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._requests.labels(route, str(status)).inc()
            self._seconds.labels(route).observe(time.perf_counter() - started)


class BodySizeLimit:
    """Refuse bodies over `max_bytes` with 413, by Content-Length up front or by counting the stream."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLargeError(f"request body exceeds the limit of {self._max} bytes")
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self._max:
                await send_error(send, too_large)
                return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self._max:
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLargeError:
            if not started:
                await send_error(send, too_large)


class _BodyTooLargeError(Exception):
    pass


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class BearerAuth:
    """Require `Authorization: Bearer <key>` on every path except the public ones.

    Only the SHA-256 digest of the key is kept; comparison is constant-time.
    """

    def __init__(self, app: ASGIApp, *, key_digests: Iterable[bytes], public_paths: Iterable[str]) -> None:
        self.app = app
        self._digests = tuple(key_digests)
        self._public = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._public:
            await self.app(scope, receive, send)
            return
        presented = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                presented = value
                break
        scheme, _, token = presented.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await send_error(send, AuthenticationError("missing API key: send 'Authorization: Bearer <key>'"))
            return
        digest = key_digest(token.strip())
        if not any(secrets.compare_digest(digest, known) for known in self._digests):
            await send_error(send, AuthenticationError("invalid API key"))
            return
        await self.app(scope, receive, send)


Middleware = Callable[[ASGIApp], ASGIApp]


def build_middleware(app: ASGIApp, layers: list[Middleware]) -> ASGIApp:
    """Wrap `app` so that `layers[0]` is the outermost middleware."""
    for layer in reversed(layers):
        app = layer(app)
    return app


def service_middleware(
    app: ASGIApp,
    *,
    requests: Counter,
    seconds: Histogram,
    routes: Iterable[str],
    max_body_bytes: int,
    api_key: str | None,
    public_paths: Iterable[str],
) -> ASGIApp:
    """The usual stack for a service: trace context (when tracing is on), request metrics, body limit, and a
    Bearer key when one is configured."""
    layers: list[Middleware] = [
        *trace_layers(),
        lambda inner: RequestMetrics(inner, requests=requests, seconds=seconds, routes=routes),
        lambda inner: BodySizeLimit(inner, max_bytes=max_body_bytes),
    ]
    if api_key is not None:
        digest = key_digest(api_key)
        layers.append(lambda inner: BearerAuth(inner, key_digests=[digest], public_paths=public_paths))
    return build_middleware(app, layers)
