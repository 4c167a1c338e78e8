"""The JSON path: answer from the response cache, or route to a deployment, check the reply, cache and account it.

The reply is parsed once, here: its usage, the post-call guardrails and (while tracing) its attempt span's record
of the answer all read that one parse."""

from __future__ import annotations

from typing import Any

import orjson

from inferstack.core.errors import InferstackError, UpstreamError
from inferstack.gateway.cache.base import ResponseCache, is_cacheable, request_cache_key
from inferstack.gateway.guardrails.base import Guardrail, GuardrailBlockedError
from inferstack.gateway.guardrails.pipeline import check_reply, wants_reply_check
from inferstack.gateway.metrics import GatewayMetrics
from inferstack.gateway.proxy.accounting import UsageAccounting
from inferstack.gateway.proxy.attempts import UpstreamAttempts
from inferstack.gateway.proxy.call import ProxyCall
from inferstack.gateway.proxy.replies import ProxyReply, reply_headers
from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.routing.router import Router
from inferstack.gateway.settings import CacheConfig
from inferstack.gateway.upstreams.base import UpstreamReply


class CompletionPath:
    def __init__(
        self,
        *,
        router: Router,
        attempts: UpstreamAttempts,
        accounting: UsageAccounting,
        metrics: GatewayMetrics,
        cache: ResponseCache | None,
        cache_config: CacheConfig,
    ) -> None:
        self.router = router
        self.attempts = attempts
        self.accounting = accounting
        self.metrics = metrics
        self.cache = cache
        self.cache_sampled = cache_config.cache_sampled
        self._cache_hits = metrics.cache.labels("hit")
        self._cache_misses = metrics.cache.labels("miss")

    async def complete(self, call: ProxyCall, guardrails: tuple[Guardrail, ...]) -> ProxyReply:
        cache_key = None
        if self.cache is not None and is_cacheable(call.route, call.body, cache_sampled=self.cache_sampled):
            cache_key = request_cache_key(call.route, call.model, call.body)
            cached = await self.cache.get(cache_key)
            if cached is not None:
                self._cache_hits.inc()
                self.accounting.record(call, None, 200, {}, cache_hit=True)
                return ProxyReply(200, cached, reply_headers(call, cache="hit"))
            self._cache_misses.inc()

        async def attempt(deployment: Deployment) -> UpstreamReply:
            return await self.attempts.post(call, deployment)

        deployment, reply = await self.router.run(call.route_model, attempt)
        body = reply.body
        usage: dict[str, Any] = {}
        if reply.status == 200:
            parsed, body = self._read_reply(call, deployment, reply, guardrails)
            usage = parsed.get("usage") or {}
            if cache_key is not None and self.cache is not None:
                await self.cache.set(cache_key, body)
        self.accounting.record(call, deployment, reply.status, usage, cache_hit=False)
        headers = reply_headers(call, cache="miss" if cache_key else None, deployment=deployment)
        return ProxyReply(reply.status, body, headers)

    def _read_reply(
        self, call: ProxyCall, deployment: Deployment, reply: UpstreamReply, guardrails: tuple[Guardrail, ...]
    ) -> tuple[dict[str, Any], bytes]:
        """The 200 reply parsed (once) and checked by post-call guardrails, and the body to send (re-encoded when
        they masked something). A traced attempt's span records the reply as the client gets it."""
        span = call.reply_span
        parsed: dict[str, Any] | None = None
        try:
            parsed = _parse_reply(reply.body, deployment)
            body = reply.body
            if wants_reply_check(guardrails) and self._check_reply(call, guardrails, parsed):
                body = orjson.dumps(parsed)
        except BaseException as exc:
            if span is not None:
                span.end(parsed, outcome=_outcome(exc))
            raise
        if span is not None:
            span.end(parsed)
        return parsed, body

    def _check_reply(self, call: ProxyCall, guardrails: tuple[Guardrail, ...], parsed: dict[str, Any]) -> bool:
        """Post-call guardrails on a complete reply; True when they masked something (the body must be re-encoded)."""
        try:
            changed = check_reply(guardrails, call.route, parsed)
        except GuardrailBlockedError:
            self.metrics.guardrail_hits.labels("response", "block").inc()
            raise
        if changed:
            self.metrics.guardrail_hits.labels("response", "mask").inc()
        return changed


def _parse_reply(body: bytes, deployment: Deployment) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamError(f"deployment {deployment.id} returned a body that is not JSON") from None
    if not isinstance(parsed, dict):
        raise UpstreamError(f"deployment {deployment.id} returned JSON that is not an object")
    return parsed


def _outcome(exc: BaseException) -> str:
    """The error type a reply that was not sent ends its attempt span with (e.g. `guardrail_blocked`)."""
    if isinstance(exc, InferstackError):
        return exc.error_name
    return type(exc).__name__
