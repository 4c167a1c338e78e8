"""`ProxyService`: authenticate, admit, guard the request, then the JSON path or the stream path.

It knows no web framework: it takes the raw body and Authorization header and returns a `ProxyReply` (bytes)
or a `ProxyStream` (an async iterator of SSE bytes) for the route to send. Upstreams are reached only through
the `Upstream` interface, so the whole path runs in unit tests against `upstreams.fake.FakeUpstream`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

from opentelemetry import trace

from inferstack.core.errors import InferstackError
from inferstack.gateway.cache.base import ResponseCache
from inferstack.gateway.guardrails.base import Guardrail, GuardrailBlockedError
from inferstack.gateway.guardrails.pipeline import GuardrailSet, check_request
from inferstack.gateway.keys.registry import KeyRegistry
from inferstack.gateway.metrics import GatewayMetrics
from inferstack.gateway.proxy.accounting import UsageAccounting
from inferstack.gateway.proxy.attempts import UpstreamAttempts
from inferstack.gateway.proxy.call import ProxyCall, RequestIds, checked_session_id, parse_request
from inferstack.gateway.proxy.completion import CompletionPath
from inferstack.gateway.proxy.replies import ProxyReply, ProxyStream
from inferstack.gateway.proxy.streaming import StreamPath
from inferstack.gateway.routing.router import Router
from inferstack.gateway.settings import CacheConfig
from inferstack.gateway.upstreams.base import Upstream
from inferstack.gateway.usage_writer import UsageWriter
from inferstack.observability import genai


class _Once:
    """Calls `action` the first time it is called, never again."""

    __slots__ = ("action",)

    def __init__(self, action: Callable[[], None]) -> None:
        self.action: Callable[[], None] | None = action

    def __call__(self) -> None:
        action, self.action = self.action, None
        if action is not None:
            action()


class ProxyService:
    def __init__(
        self,
        *,
        router: Router,
        upstream: Upstream,
        registry: KeyRegistry,
        usage: UsageWriter,
        guardrails: GuardrailSet,
        metrics: GatewayMetrics,
        cache: ResponseCache | None,
        cache_config: CacheConfig,
        tracing: bool = False,
    ) -> None:
        self.router = router
        self.upstream = upstream
        self.registry = registry
        self.guardrails = guardrails
        self.metrics = metrics
        self.accounting = UsageAccounting(registry=registry, router=router, usage=usage, metrics=metrics)
        attempts = UpstreamAttempts(upstream, metrics, default_timeout_s=router.config.timeout_s, tracing=tracing)
        self.completions = CompletionPath(
            router=router,
            attempts=attempts,
            accounting=self.accounting,
            metrics=metrics,
            cache=cache,
            cache_config=cache_config,
        )
        self.streams = StreamPath(router=router, attempts=attempts, accounting=self.accounting, metrics=metrics)
        self._ids = RequestIds()
        self.tracing = tracing

    async def handle(
        self,
        route: str,
        raw_body: bytes,
        authorization: str | None,
        *,
        model: str | None = None,
        session_id: str | None = None,
    ) -> ProxyReply | ProxyStream:
        """`model`, when given, is the model named by the URL (an Azure deployment route), not by the body;
        `session_id` is the `x-session-id` header's (read only while tracing; `metadata.session_id` wins)."""
        key = await self.registry.authenticate(authorization)
        session = checked_session_id(session_id, "x-session-id")
        call = ProxyCall(route, key, parse_request(raw_body, route, model=model), self._ids.next(), session_id=session)
        if self.tracing and call.session_id:
            genai.set_session(trace.get_current_span(), call.session_id)  # the request's SERVER span
        self.metrics.in_flight.inc()
        streaming = False
        try:
            result = await self._dispatch(call)
            if isinstance(result, ProxyStream):
                streaming = True
                left = _Once(self.metrics.in_flight.dec)
                result.events = self._count_in_flight(result.events, left)
                result.on_close.append(left)
            return result
        finally:
            if not streaming:
                self.metrics.in_flight.dec()

    @staticmethod
    async def _count_in_flight(
        events: AsyncGenerator[bytes, None], left: Callable[[], None]
    ) -> AsyncGenerator[bytes, None]:
        try:
            async with aclosing(events):  # close the relay now (releasing the upstream), not at GC
                async for block in events:
                    yield block
        finally:
            left()

    async def _dispatch(self, call: ProxyCall) -> ProxyReply | ProxyStream:
        try:
            aliased = call.key.record.aliases.get(call.model) if call.key.record.aliases else None
            if aliased is not None:
                call.model = aliased  # the key's own name for a model (LiteLLM's key aliases)
            call.route_model = self.router.resolve(call.model)
            await self.registry.admit(call.key, call.model, call.route_model)
            call.admitted = True
            guardrails = self.guardrails.applicable(call.route_model, call.key.record.guardrails)
            if guardrails:
                self._guard_request(guardrails, call)
            if call.streaming:
                return await self.streams.stream(call, guardrails)
            return await self.completions.complete(call, guardrails)
        except InferstackError as exc:
            self.metrics.rejected.labels(exc.error_name).inc()
            if not call.recorded:
                self.accounting.record(call, None, exc.status_code, {}, cache_hit=False)
            raise
        except BaseException:
            if call.admitted and not call.recorded:  # a bug or a cancellation: the key's parallel slot is freed
                call.admitted = False
                self.registry.finished(call.key)
            raise

    def _guard_request(self, guardrails: tuple[Guardrail, ...], call: ProxyCall) -> None:
        try:
            if check_request(guardrails, call.route, call.body):
                for g in guardrails:
                    if g.applies_before():
                        self.metrics.guardrail_hits.labels(g.name, "mask").inc()
        except GuardrailBlockedError:
            self.metrics.guardrail_hits.labels("request", "block").inc()
            raise
