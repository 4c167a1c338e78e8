"""What the proxy hands the route to send: a complete reply, or a stream of SSE bytes, with the gateway's headers."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from inferstack.gateway.proxy.call import ProxyCall
from inferstack.gateway.routing.deployment import Deployment


@dataclass
class ProxyReply:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class ProxyStream:
    """SSE blocks to send. Whoever sends them calls `aclose()` when done: closing a generator that never started
    runs none of its cleanup, so `on_close` hooks (each a no-op once the stream ended itself) let it go then."""

    events: AsyncGenerator[bytes, None]
    headers: dict[str, str]
    on_close: list[Callable[[], None]] = field(default_factory=list)

    async def aclose(self) -> None:
        try:
            await self.events.aclose()
        finally:
            hooks, self.on_close = self.on_close, []
            for hook in hooks:
                hook()


def reply_headers(call: ProxyCall, *, cache: str | None = None, deployment: Deployment | None = None) -> dict[str, str]:
    """The overhead so far (total minus upstream time), the request id, and cache/deployment when known."""
    headers = {"x-inferstack-overhead-ms": f"{call.overhead_ms():.3f}", "x-request-id": call.request_id}
    if cache is not None:
        headers["x-inferstack-cache"] = cache
    if deployment is not None:
        headers["x-inferstack-deployment"] = deployment.id
    return headers
