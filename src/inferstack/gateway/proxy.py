"""The hot path: authenticate, admit, guard, serve from cache or route upstream, account usage.

`ProxyService` knows no web framework: it takes the raw body and Authorization header and returns a
`ProxyReply` (bytes) or a `ProxyStream` (an async iterator of SSE bytes) for the route to send.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from opentelemetry import trace

from inferstack.core.errors import InferstackError, InvalidRequestError, UpstreamError
from inferstack.gateway.cache.base import ResponseCache, is_cacheable, request_cache_key
from inferstack.gateway.guardrails.base import Guardrail, GuardrailBlockedError
from inferstack.gateway.guardrails.pipeline import GuardrailSet, check_reply, check_request, wants_reply_check
from inferstack.gateway.keys.records import UsageRecord
from inferstack.gateway.keys.registry import KeyRegistry, KeyState
from inferstack.gateway.metrics import GatewayMetrics
from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.routing.router import Router
from inferstack.gateway.settings import CacheConfig
from inferstack.gateway.sse_relay import RelayState, parse_event, relay_events
from inferstack.gateway.upstream import OpenAIUpstream, UpstreamRejected, UpstreamReply
from inferstack.gateway.usage_writer import UsageWriter
from inferstack.openai_api.errors import error_body_for

log = logging.getLogger(__name__)
tracer = trace.get_tracer("inferstack.gateway")

ROUTE_PATHS = {"chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings"}
_REQUIRED = {"chat": "messages", "completions": "prompt", "embeddings": "input"}


@dataclass
class ProxyReply:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class ProxyStream:
    events: AsyncGenerator[bytes, None]
    headers: dict[str, str]


@dataclass
class _Call:
    """One request's working state."""

    route: str
    key: KeyState
    model: str
    body: dict[str, Any]
    started: float = field(default_factory=time.perf_counter)
    started_wall: float = field(default_factory=time.time)
    upstream_s: float = 0.0
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    serialized: dict[str, bytes] = field(default_factory=dict)
    recorded: bool = False
    timeout_s: float | None = None

    def attempt_timeout(self, deployment: Deployment, default_s: float) -> float:
        """The request's own `timeout` when given, else the deployment's, else the router default."""
        return self.timeout_s or deployment.config.timeout_s or default_s

    def upstream_body(self, deployment: Deployment) -> bytes:
        upstream_model = deployment.config.model
        body = self.serialized.get(upstream_model)
        if body is None:
            self.body["model"] = upstream_model
            body = self.serialized[upstream_model] = orjson.dumps(self.body)
        return body

    def overhead_ms(self) -> float:
        return max(0.0, (time.perf_counter() - self.started - self.upstream_s) * 1000)


class ProxyService:
    def __init__(
        self,
        *,
        router: Router,
        upstream: OpenAIUpstream,
        registry: KeyRegistry,
        usage: UsageWriter,
        guardrails: GuardrailSet,
        metrics: GatewayMetrics,
        cache: ResponseCache | None,
        cache_config: CacheConfig,
        tracing: bool = False,
    ) -> None:
        self.tracing = tracing
        self.router = router
        self.upstream = upstream
        self.registry = registry
        self.usage = usage
        self.guardrails = guardrails
        self.metrics = metrics
        self.cache = cache
        self.cache_config = cache_config

    async def handle(self, route: str, raw_body: bytes, authorization: str | None) -> ProxyReply | ProxyStream:
        key = await self.registry.authenticate(authorization)
        body = _parse(raw_body, route)
        model = body["model"]
        call = _Call(route, key, model, body, timeout_s=_request_timeout(body))
        self.metrics.in_flight.inc()
        streaming = False
        try:
            result = await self._dispatch(call)
            if isinstance(result, ProxyStream):
                streaming = True
                result.events = self._count_in_flight(result.events)
            return result
        finally:
            if not streaming:
                self.metrics.in_flight.dec()

    async def _count_in_flight(self, events: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
        try:
            async with aclosing(events):  # close the relay now (releasing the upstream), not at GC
                async for block in events:
                    yield block
        finally:
            self.metrics.in_flight.dec()

    async def _dispatch(self, call: _Call) -> ProxyReply | ProxyStream:
        route, key, model, body = call.route, call.key, call.model, call.body
        try:
            self.router.require_model(model)
            self.registry.admit(key, model)
            guardrails = self.guardrails.applicable(model, key.record.guardrails)
            if guardrails:
                self._guard_request(guardrails, call)
            if body.get("stream") is True and route != "embeddings":
                return await self._stream(call, guardrails)
            return await self._complete(call, guardrails)
        except InferstackError as exc:
            self.metrics.rejected.labels(exc.code or exc.error_type).inc()
            if not call.recorded:
                self._record(call, None, exc.status_code, {}, cache_hit=False)
            raise

    def _guard_request(self, guardrails: tuple[Guardrail, ...], call: _Call) -> None:
        try:
            if check_request(guardrails, call.route, call.body):
                for g in guardrails:
                    if g.applies_before():
                        self.metrics.guardrail_hits.labels(g.name, "mask").inc()
        except GuardrailBlockedError:
            self.metrics.guardrail_hits.labels("request", "block").inc()
            raise

    async def _complete(self, call: _Call, guardrails: tuple[Guardrail, ...]) -> ProxyReply:
        cache_key = None
        if self.cache is not None and is_cacheable(
            call.route, call.body, cache_sampled=self.cache_config.cache_sampled
        ):
            cache_key = request_cache_key(call.route, call.model, call.body)
            cached = await self.cache.get(cache_key)
            if cached is not None:
                self.metrics.cache.labels("hit").inc()
                self._record(call, None, 200, {}, cache_hit=True)
                return ProxyReply(200, cached, self._headers(call, cache="hit"))
            self.metrics.cache.labels("miss").inc()

        async def attempt(deployment: Deployment) -> UpstreamReply:
            return await self._post(call, deployment)

        deployment, reply = await self.router.run(call.model, attempt)
        body = reply.body
        usage: dict[str, Any] = {}
        if reply.status == 200:
            parsed = _parse_reply(reply.body, deployment)
            usage = parsed.get("usage") or {}
            if wants_reply_check(guardrails) and check_reply(guardrails, call.route, parsed):
                body = orjson.dumps(parsed)
            if cache_key is not None and self.cache is not None:
                await self.cache.set(cache_key, body)
        self._record(call, deployment, reply.status, usage, cache_hit=False)
        headers = self._headers(call, cache="miss" if cache_key else None, deployment=deployment)
        return ProxyReply(reply.status, body, headers)

    async def _post(self, call: _Call, deployment: Deployment) -> UpstreamReply:
        if not self.tracing:
            return await self._post_untraced(call, deployment)
        with tracer.start_as_current_span("gateway.upstream") as span:
            span.set_attribute("inferstack.deployment", deployment.id)
            span.set_attribute("inferstack.model", call.model)
            try:
                reply = await self._post_untraced(call, deployment)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__name__)
                raise
            span.set_attribute("http.response.status_code", reply.status)
            return reply

    async def _post_untraced(self, call: _Call, deployment: Deployment) -> UpstreamReply:
        timeout = call.attempt_timeout(deployment, self.router.config.timeout_s)
        started = time.perf_counter()
        try:
            return await self.upstream.post(
                deployment, ROUTE_PATHS[call.route], call.upstream_body(deployment), timeout
            )
        except Exception as exc:
            self.metrics.upstream_errors.labels(deployment.id, getattr(exc, "kind", "error")).inc()
            raise
        finally:
            elapsed = time.perf_counter() - started
            call.upstream_s += elapsed
            self.metrics.upstream_latency.labels(deployment.id).observe(elapsed)

    async def _stream(self, call: _Call, guardrails: tuple[Guardrail, ...]) -> ProxyReply | ProxyStream:
        options = call.body.get("stream_options")
        client_wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        if not client_wants_usage:
            call.body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}

        async def attempt(deployment: Deployment) -> aiohttp.ClientResponse:
            timeout = call.attempt_timeout(deployment, self.router.config.timeout_s)
            started = time.perf_counter()
            try:
                return await self.upstream.open_stream(
                    deployment, ROUTE_PATHS[call.route], call.upstream_body(deployment), timeout
                )
            except UpstreamRejected:
                raise
            except Exception as exc:
                self.metrics.upstream_errors.labels(deployment.id, getattr(exc, "kind", "error")).inc()
                raise
            finally:
                call.upstream_s += time.perf_counter() - started

        try:
            deployment, response = await self.router.run(call.model, attempt, hold=True)
        except UpstreamRejected as rejected:
            self._record(call, None, rejected.reply.status, {}, cache_hit=False)
            return ProxyReply(rejected.reply.status, rejected.reply.body, self._headers(call))
        events = self._relay(call, deployment, response, hide_usage=not client_wants_usage)
        if wants_reply_check(guardrails):
            # Post-call guardrails need the whole reply before anything is sent, so a block is a real 400.
            held = [block async for block in events]
            blocks = self._guard_held(call, held, guardrails)
            return ProxyStream(_replay(blocks), self._headers(call, deployment=deployment))
        return ProxyStream(events, self._headers(call, deployment=deployment))

    async def _relay(
        self,
        call: _Call,
        deployment: Deployment,
        response: aiohttp.ClientResponse,
        *,
        hide_usage: bool,
    ) -> AsyncGenerator[bytes, None]:
        state = RelayState()
        stream_started = time.perf_counter()
        ok = False
        status = 200
        try:
            async for block in relay_events(response.content.iter_any(), state, hide_usage_chunk=hide_usage):
                yield block
            ok = True
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = 502
            self.metrics.upstream_errors.labels(deployment.id, "stream").inc()
            error = UpstreamError(f"upstream stream from {deployment.id} broke: {type(exc).__name__}")
            yield b"data: " + orjson.dumps(error_body_for(error)) + b"\n\n"
        except InferstackError as exc:
            status = exc.status_code
            yield b"data: " + orjson.dumps(error_body_for(exc)) + b"\n\n"
        finally:
            response.release()
            elapsed = time.perf_counter() - stream_started
            call.upstream_s += elapsed
            self.router.release(deployment, elapsed, ok=ok)
            self._record(call, deployment, status if ok or status != 200 else 499, state.usage or {}, cache_hit=False)

    def _guard_held(self, call: _Call, held: list[bytes], guardrails: tuple[Guardrail, ...]) -> list[bytes]:
        """Check a complete streamed reply; masked text goes out in the first content delta."""
        parsed = [parse_event(e) for block in held for e in block.split(b"\n\n") if e.strip()]
        text = "".join(_delta_text(p) for p in parsed if p is not None)
        probe: dict[str, Any] = {"choices": [{"message": {"content": text}, "text": text}]}
        try:
            changed = check_reply(guardrails, call.route, probe)
        except GuardrailBlockedError:
            self.metrics.guardrail_hits.labels("response", "block").inc()
            raise
        if not changed:
            return held
        self.metrics.guardrail_hits.labels("response", "mask").inc()
        masked = probe["choices"][0]["message"]["content"] if call.route == "chat" else probe["choices"][0]["text"]
        field_name = "content" if call.route == "chat" else "text"
        out, first_content = [], True
        for event in parsed:
            if event is None:
                continue
            for choice in event.get("choices") or ():
                container = choice.get("delta") if call.route == "chat" else choice
                if isinstance(container, dict) and isinstance(container.get(field_name), str):
                    container[field_name] = masked if first_content else ""
                    first_content = False
            out.append(b"data: " + orjson.dumps(event) + b"\n\n")
        out.append(b"data: [DONE]\n\n")
        return out

    def _headers(
        self, call: _Call, *, cache: str | None = None, deployment: Deployment | None = None
    ) -> dict[str, str]:
        headers = {"x-inferstack-overhead-ms": f"{call.overhead_ms():.3f}", "x-request-id": call.request_id}
        if cache is not None:
            headers["x-inferstack-cache"] = cache
        if deployment is not None:
            headers["x-inferstack-deployment"] = deployment.id
        return headers

    def _record(
        self, call: _Call, deployment: Deployment | None, status: int, usage: dict[str, Any], *, cache_hit: bool
    ) -> None:
        call.recorded = True
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        spend = 0.0
        if deployment is not None and not cache_hit:
            config = deployment.config
            spend = prompt * config.input_cost_per_token + completion * config.output_cost_per_token
            if prompt or completion:
                deployment.tokens.add(prompt + completion, time.time())
        self.registry.charge(call.key, prompt + completion, spend)
        elapsed = time.perf_counter() - call.started
        deployment_id = deployment.id if deployment is not None else ("cache" if cache_hit else "none")
        m = self.metrics
        m.requests.labels(call.model, deployment_id, str(status)).inc()
        m.latency.labels(call.model).observe(elapsed)
        m.overhead.observe(max(0.0, elapsed - call.upstream_s))
        if prompt:
            m.tokens.labels(call.model, "prompt").inc(prompt)
        if completion:
            m.tokens.labels(call.model, "completion").inc(completion)
        if spend:
            m.spend.labels(call.model).inc(spend)
        self.usage.add(
            UsageRecord(
                request_id=call.request_id,
                token=call.key.token,
                model=call.model,
                deployment=deployment.id if deployment is not None else None,
                prompt_tokens=prompt,
                completion_tokens=completion,
                spend=spend,
                cache_hit=cache_hit,
                status=status,
                started_at=call.started_wall,
                duration_ms=elapsed * 1000,
            )
        )


async def _replay(blocks: list[bytes]) -> AsyncGenerator[bytes, None]:
    for block in blocks:
        yield block


def _parse(raw_body: bytes, route: str) -> dict[str, Any]:
    try:
        body = orjson.loads(raw_body)
    except orjson.JSONDecodeError:
        raise InvalidRequestError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model: field required (a model name string)", param="model")
    required = _REQUIRED[route]
    value = body.get(required)
    if value is None:
        raise InvalidRequestError(f"{required}: field required", param=required)
    if route == "chat" and (not isinstance(value, list) or not value):
        raise InvalidRequestError("messages: must be a non-empty array", param="messages")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError("stream: must be a boolean", param="stream")
    return body


def _request_timeout(body: dict[str, Any]) -> float | None:
    """LiteLLM's per-request `timeout` (seconds): used for each upstream attempt, not sent upstream."""
    value = body.pop("timeout", None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidRequestError("timeout: must be a positive number of seconds", param="timeout")
    return float(value)


def _parse_reply(body: bytes, deployment: Deployment) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamError(f"deployment {deployment.id} returned a body that is not JSON") from None
    if not isinstance(parsed, dict):
        raise UpstreamError(f"deployment {deployment.id} returned JSON that is not an object")
    return parsed


def _delta_text(event: dict[str, Any]) -> str:
    parts = []
    for choice in event.get("choices") or ():
        delta = choice.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            parts.append(delta["content"])
        elif isinstance(choice.get("text"), str):
            parts.append(choice["text"])
    return "".join(parts)
