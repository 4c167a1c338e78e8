"""Outbound trace context for httpx-based clients (the `openai` SDK the agent and ingestion use).

`traced_http_client()` is None while tracing is off (the SDK keeps its own client, nothing changes); when on,
it is an httpx client whose transport opens one CLIENT span per request (`chat <model>`, `embeddings <model>`
with GenAI attributes) and injects W3C `traceparent`/`tracestate` into the request headers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from inferstack.observability import genai
from inferstack.observability.tracing import tracing_enabled

tracer = trace.get_tracer("inferstack.client")


class TracingTransport(httpx.AsyncBaseTransport):
    """Wraps another transport: a span per request, the context in its headers, usage from JSON replies."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        operation = genai.operation_for_path(request.url.path)
        model = _requested_model(request)
        attributes: dict[str, Any] = {
            genai.OPERATION: operation,
            genai.PROVIDER: genai.OPENAI_PROVIDER,
            "server.address": request.url.host,
            "http.request.method": request.method,
        }
        if model:
            attributes[genai.REQUEST_MODEL] = model
        name = f"{operation} {model}".strip()
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        try:
            with trace.use_span(span, end_on_exit=False):
                propagate.inject(request.headers)
                response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            span.set_attribute(genai.ERROR_TYPE, type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR))
            span.end()
            raise
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 400:
            span.set_attribute(genai.ERROR_TYPE, str(response.status_code))
            span.set_status(Status(StatusCode.ERROR))
        elif response.headers.get("content-type", "").startswith("application/json"):
            try:
                body = await response.aread()
            except BaseException:
                span.end()
                raise
            _record_usage(span, body)
            span.end()
            return httpx.Response(
                response.status_code, headers=response.headers, content=body, extensions=response.extensions
            )
        # A stream (or an error body) is read later by the caller: the span ends when it is closed.
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_SpanEndingStream(response.stream, span),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _SpanEndingStream(httpx.AsyncByteStream):
    """The response body as it arrives; the request's span ends when the caller closes it."""

    def __init__(self, inner: httpx.AsyncByteStream, span: trace.Span) -> None:
        self._inner = inner
        self._span = span

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._span.end()


def _requested_model(request: httpx.Request) -> str:
    try:
        body = json.loads(request.content or b"{}")
    except (ValueError, httpx.RequestNotRead):
        return ""
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else ""


def _record_usage(span: trace.Span, body: bytes) -> None:
    try:
        payload = json.loads(body)
    except ValueError:
        return
    if isinstance(payload, dict):
        genai.set_usage(span, payload)


def traced_http_client(**options: Any) -> httpx.AsyncClient | None:
    """An httpx client for `openai.AsyncOpenAI(http_client=...)` that traces and propagates; None when off."""
    if not tracing_enabled():
        return None
    limits = options.pop("limits", httpx.Limits(max_connections=1000, max_keepalive_connections=100))
    return httpx.AsyncClient(
        transport=TracingTransport(httpx.AsyncHTTPTransport(limits=limits)), follow_redirects=True, **options
    )
