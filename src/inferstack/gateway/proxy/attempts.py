"""One attempt at one deployment, for the JSON path and the stream path alike: the timeout it gets, the time
it takes (counted as upstream time, not overhead), its metrics and span, and which answers deserve a retry.

A JSON attempt's span ends with an error reply; a 200's stays open as the call's `ReplySpan` until the JSON path
has parsed (and guarded) the reply and records it there. A stream attempt's span stays open past the opening: the
stream path relays the stream through its `StreamSpan` and ends it there, when the stream ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import orjson
from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from inferstack.gateway.metrics import GatewayMetrics
from inferstack.gateway.proxy.accounting import LabelledChildren
from inferstack.gateway.proxy.call import ProxyCall
from inferstack.gateway.proxy.reply_span import ReplySpan
from inferstack.gateway.proxy.stream_span import CANCELLED, StreamSpan
from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.upstreams.base import Upstream, UpstreamReply, UpstreamStream, failure_for_status
from inferstack.observability import genai
from inferstack.observability.tracing import capture_content

T = TypeVar("T")
tracer = trace.get_tracer("inferstack.gateway")


class UpstreamRejected(Exception):  # noqa: N818 - carries a non-retryable upstream reply to the client
    """The upstream refused a streaming request itself (a 4xx): its reply goes to the client unchanged."""

    def __init__(self, reply: UpstreamReply) -> None:
        super().__init__(f"HTTP {reply.status}")
        self.reply = reply


@dataclass
class OpenedStream:
    """An open 200 stream and, while tracing, the span of the attempt that opened it (the relay ends it)."""

    stream: UpstreamStream
    span: StreamSpan | None = None


class UpstreamAttempts:
    """Runs single attempts for the router's retry loop; raises `UpstreamFailure` when another might do better."""

    def __init__(self, upstream: Upstream, metrics: GatewayMetrics, *, default_timeout_s: float, tracing: bool) -> None:
        self.upstream = upstream
        self.metrics = metrics
        self.default_timeout_s = default_timeout_s
        self.tracing = tracing
        self._children = LabelledChildren()

    async def post(self, call: ProxyCall, deployment: Deployment) -> UpstreamReply:
        """The complete reply; a non-retryable error status (e.g. 400) is a reply too, passed to the client.
        While tracing, a 200's attempt span is left open as `call.reply_span` for the JSON path to end."""
        if not self.tracing:  # a non-recording span still costs ~5% of CPU per request
            return await self._measured(call, deployment, self._post)
        reply, span = await self._in_span(call, deployment, self._post)
        span.set_attribute("http.response.status_code", reply.status)
        if reply.status != 200:
            span.end()
        else:
            call.reply_span = ReplySpan(span, capture=capture_content())
        return reply

    async def open_stream(self, call: ProxyCall, deployment: Deployment) -> OpenedStream:
        """An open 200 stream; raises `UpstreamRejected` for a non-retryable refusal."""
        if not self.tracing:
            return OpenedStream(await self._measured(call, deployment, self._open_stream))
        started = time.perf_counter()
        stream, span = await self._in_span(call, deployment, self._open_stream)
        span.set_attribute("http.response.status_code", 200)
        return OpenedStream(stream, StreamSpan(span, capture=capture_content(), started=started))

    async def _in_span(
        self,
        call: ProxyCall,
        deployment: Deployment,
        send: Callable[[ProxyCall, Deployment, float], Awaitable[T]],
    ) -> tuple[T, trace.Span]:
        """One attempt inside its `upstream <deployment>` span, current while sending (so it is injected
        upstream). A failed attempt's span is ended here; a successful one is returned open for its path to end."""
        span = tracer.start_span(
            f"upstream {deployment.id}", kind=SpanKind.CLIENT, attributes=attempt_attributes(call, deployment)
        )
        token = context.attach(trace.set_span_in_context(span))
        try:
            result = await self._measured(call, deployment, send)
        except BaseException as exc:
            _failed(span, exc)
            span.end()
            raise
        finally:
            context.detach(token)
        return result, span

    async def _post(self, call: ProxyCall, deployment: Deployment, timeout_s: float) -> UpstreamReply:
        reply = await self.upstream.post(deployment, call.path, call.upstream_body(deployment), timeout_s)
        failure = failure_for_status(reply)
        if failure is not None:
            raise failure
        return reply

    async def _open_stream(self, call: ProxyCall, deployment: Deployment, timeout_s: float) -> UpstreamStream:
        answer = await self.upstream.open_stream(deployment, call.path, call.upstream_body(deployment), timeout_s)
        if not isinstance(answer, UpstreamReply):
            return answer
        failure = failure_for_status(answer)
        if failure is not None:
            raise failure
        raise UpstreamRejected(answer)

    async def _measured(
        self,
        call: ProxyCall,
        deployment: Deployment,
        send: Callable[[ProxyCall, Deployment, float], Awaitable[T]],
    ) -> T:
        timeout_s = call.attempt_timeout(deployment, self.default_timeout_s)
        started = time.perf_counter()
        try:
            return await send(call, deployment, timeout_s)
        except UpstreamRejected:
            raise
        except Exception as exc:
            self.metrics.upstream_errors.labels(deployment.id, getattr(exc, "kind", "error")).inc()
            raise
        finally:
            elapsed = time.perf_counter() - started
            call.upstream_s += elapsed
            self._children.get(self.metrics.upstream_latency, deployment.id).observe(elapsed)


def _failed(span: trace.Span, exc: BaseException) -> None:
    """An attempt that raised: the client left (cancelled), the upstream refused, or it failed."""
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        span.set_attribute(genai.ERROR_TYPE, CANCELLED)
        return
    if isinstance(exc, UpstreamRejected):
        span.set_attribute("http.response.status_code", exc.reply.status)
    span.set_attribute(genai.ERROR_TYPE, getattr(exc, "kind", None) or type(exc).__name__)
    span.record_exception(exc)  # the failure's summary, as an `exception` event
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


# Sampling parameters recorded on every attempt span (GenAI `gen_ai.request.*`): numbers, never content.
_REQUEST_PARAMETERS = {
    "temperature": genai.REQUEST_TEMPERATURE,
    "top_p": "gen_ai.request.top_p",
    "max_tokens": genai.REQUEST_MAX_TOKENS,
    "max_completion_tokens": genai.REQUEST_MAX_TOKENS,
    "seed": "gen_ai.request.seed",
}
# Request fields that are content (tool definitions, output schemas): recorded only with `capture_content`.
_CAPTURED_FIELDS = {
    "tools": "gen_ai.tool.definitions",
    "tool_choice": "inferstack.request.tool_choice",
    "response_format": "inferstack.request.response_format",
}


def attempt_attributes(call: ProxyCall, deployment: Deployment) -> dict[str, str | int | float]:
    """GenAI attributes of one upstream attempt (built only while tracing is on): the model, the sampling
    parameters and the key's id (its digest, as the key API names it; none for the master key). With
    `capture_content` the request's messages, tools and response format are recorded as sent upstream, after
    the pre-call guardrails masked PII in them, so the console can replay the call."""
    attributes: dict[str, str | int | float] = {
        genai.OPERATION: genai.operation_for_path(call.path),
        genai.PROVIDER: genai.OPENAI_PROVIDER,
        genai.REQUEST_MODEL: call.model,
        "inferstack.deployment": deployment.id,
        "server.address": urlsplit(deployment.config.api_base).hostname or "",
    }
    if not call.key.is_master:
        attributes["inferstack.key.id"] = call.key.token
    if call.session_id:
        attributes[genai.SESSION_ID] = attributes[genai.CONVERSATION_ID] = call.session_id
        attributes[genai.LANGFUSE_SESSION_ID] = call.session_id
    for field, attribute in _REQUEST_PARAMETERS.items():
        value = call.body.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[attribute] = value
    if capture_content():
        content = call.body.get("messages", call.body.get("prompt", call.body.get("input")))
        attributes[genai.INPUT_MESSAGES] = orjson.dumps(content).decode()
        for field, attribute in _CAPTURED_FIELDS.items():
            if call.body.get(field) is not None:
                attributes[attribute] = orjson.dumps(call.body[field]).decode()
    return attributes
