"""The stream path: open a stream on a deployment (with retries until the first byte), relay it event by event,
or hold it whole when post-call guardrails must see the reply before anything is sent.

Usage is always requested upstream (`stream_options.include_usage`) and the injected usage chunk is hidden
from clients that did not ask for it. A client that leaves mid-stream is recorded as 499.

Whatever way a stream ends (relayed to its end, broken upstream, the client gone, the gateway shutting down, or
closed before its first event was read), `_StreamEnd` lets its upstream, deployment slot, usage record and
attempt span go exactly once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from contextlib import aclosing

from inferstack.core.errors import InferstackError, UpstreamError
from inferstack.gateway.guardrails.base import Guardrail, GuardrailBlockedError
from inferstack.gateway.guardrails.pipeline import wants_reply_check
from inferstack.gateway.metrics import GatewayMetrics
from inferstack.gateway.proxy.accounting import UsageAccounting
from inferstack.gateway.proxy.attempts import OpenedStream, UpstreamAttempts, UpstreamRejected
from inferstack.gateway.proxy.call import ProxyCall
from inferstack.gateway.proxy.held_reply import guard_held_reply
from inferstack.gateway.proxy.replies import ProxyReply, ProxyStream, reply_headers
from inferstack.gateway.proxy.stream_span import CANCELLED
from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.routing.router import Router
from inferstack.gateway.sse_relay import RelayState, relay_events
from inferstack.gateway.upstreams.base import UpstreamFailure
from inferstack.openai_api.errors import error_body_for
from inferstack.openai_api.sse import sse_event

CLIENT_GONE_STATUS = 499


class StreamPath:
    def __init__(
        self, *, router: Router, attempts: UpstreamAttempts, accounting: UsageAccounting, metrics: GatewayMetrics
    ) -> None:
        self.router = router
        self.attempts = attempts
        self.accounting = accounting
        self.metrics = metrics

    async def stream(self, call: ProxyCall, guardrails: tuple[Guardrail, ...]) -> ProxyReply | ProxyStream:
        options = call.body.get("stream_options")
        # The Responses API reports usage in its response.completed event; it takes no stream_options.
        client_wants_usage = call.route == "responses" or (
            isinstance(options, dict) and options.get("include_usage") is True
        )
        if not client_wants_usage:
            call.body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}

        async def attempt(deployment: Deployment) -> OpenedStream:
            return await self.attempts.open_stream(call, deployment)

        try:
            deployment, opened = await self.router.run(call.route_model, attempt, hold=True)
        except UpstreamRejected as rejected:
            self.accounting.record(call, None, rejected.reply.status, {}, cache_hit=False)
            return ProxyReply(rejected.reply.status, rejected.reply.body, reply_headers(call))
        held = wants_reply_check(guardrails)
        end = _StreamEnd(self, call, deployment, opened, span_later=held)
        events = self._relay(call, deployment, opened, end, hide_usage=not client_wants_usage)
        if held:
            # Post-call guardrails need the whole reply before anything is sent, so a block is a real 400.
            if opened.span is not None:
                opened.span.defer_text()  # recorded as the guardrails let it out, masked
            try:
                async with aclosing(events):
                    blocks = [block async for block in events]
                blocks = self._guard_held(call, blocks, guardrails)
            except BaseException as exc:
                end.abandoned()  # a no-op unless the relay never ran
                end.end_span(outcome=exc.error_name if isinstance(exc, GuardrailBlockedError) else None)
                raise
            end.end_span(let_out=blocks)
            return ProxyStream(_replay(blocks), reply_headers(call, deployment=deployment))
        return ProxyStream(events, reply_headers(call, deployment=deployment), on_close=[end.abandoned])

    async def _relay(
        self, call: ProxyCall, deployment: Deployment, opened: OpenedStream, end: _StreamEnd, *, hide_usage: bool
    ) -> AsyncGenerator[bytes, None]:
        span = opened.span
        first = True
        status, outcome = 200, CANCELLED  # neither finished nor failed: the client went away
        try:
            async for block in relay_events(opened.stream.chunks(), end.state, hide_usage_chunk=hide_usage):
                if first:
                    first = False
                    self.metrics.ttft.labels(call.route_model).observe(time.perf_counter() - call.started)
                if span is not None:
                    span.observe(block)
                yield block
            status, outcome = 200, ""
        except UpstreamFailure as failure:
            status, outcome = 502, failure.kind
            self.metrics.upstream_errors.labels(deployment.id, "stream").inc()
            yield sse_event(error_body_for(UpstreamError(f"upstream stream from {deployment.id} broke: {failure}")))
        except InferstackError as exc:
            status, outcome = exc.status_code, exc.error_name
            yield sse_event(error_body_for(exc))
        finally:
            end(status, outcome)

    def _guard_held(self, call: ProxyCall, held: list[bytes], guardrails: tuple[Guardrail, ...]) -> list[bytes]:
        """Check a complete streamed reply as one reply; a masked part goes out whole in its first piece."""
        try:
            guarded = guard_held_reply(guardrails, call.route, held)
        except GuardrailBlockedError:
            self.metrics.guardrail_hits.labels("response", "block").inc()
            raise
        if guarded is None:
            return held
        self.metrics.guardrail_hits.labels("response", "mask").inc()
        return guarded


class _StreamEnd:
    """Lets one relayed stream's resources go, once: the upstream connection, the deployment's slot (with the
    stream's latency), the usage record (499 when the client left) and the attempt span."""

    __slots__ = ("call", "deployment", "done", "opened", "outcome", "path", "span_later", "started", "state")

    def __init__(
        self, path: StreamPath, call: ProxyCall, deployment: Deployment, opened: OpenedStream, *, span_later: bool
    ) -> None:
        self.path = path
        self.call = call
        self.deployment = deployment
        self.opened = opened
        self.span_later = span_later  # a held reply's span ends after the guardrails checked it (`end_span`)
        self.state = RelayState()
        self.started = time.perf_counter()
        self.done = False
        self.outcome = ""

    def __call__(self, status: int, outcome: str) -> None:
        """`outcome` is "" for a stream relayed to its end, `cancelled` when the client left, else the error."""
        if self.done:
            return
        self.done = True
        try:
            self.opened.stream.release()
            elapsed = time.perf_counter() - self.started
            self.call.upstream_s += elapsed
            self.path.router.release(self.deployment, elapsed, ok=not outcome)
            final = CLIENT_GONE_STATUS if outcome == CANCELLED else status
            self.path.accounting.record(self.call, self.deployment, final, self.state.usage or {}, cache_hit=False)
        finally:
            self.outcome = outcome
            if not self.span_later:
                self.end_span()

    def end_span(self, *, let_out: list[bytes] | None = None, outcome: str | None = None) -> None:
        """End the attempt span (once) with the relay's outcome, or `outcome` when given; `let_out` is the reply
        as the guardrails let it out."""
        span = self.opened.span
        if span is None:
            return
        if let_out is not None:
            span.let_out(let_out)
        span.end(self.state.usage, outcome=outcome or self.outcome or None)

    def abandoned(self) -> None:
        """The stream was closed before it was read to an end (a no-op when the relay already ended it)."""
        self(200, CANCELLED)


async def _replay(blocks: list[bytes]) -> AsyncGenerator[bytes, None]:
    for block in blocks:
        yield block
