"""What the proxy hands the route to send: a complete reply, or a stream of SSE bytes, with the gateway's headers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from inferstack.gateway.proxy.call import ProxyCall
from inferstack.gateway.routing.deployment import Deployment


@dataclass
class ProxyReply:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class ProxyStream:
    events: AsyncGenerator[bytes, None]
    headers: dict[str, str]


def reply_headers(call: ProxyCall, *, cache: str | None = None, deployment: Deployment | None = None) -> dict[str, str]:
    """The overhead so far (total minus upstream time), the request id, and cache/deployment when known."""
    headers = {"x-inferstack-overhead-ms": f"{call.overhead_ms():.3f}", "x-request-id": call.request_id}
    if cache is not None:
        headers["x-inferstack-cache"] = cache
    if deployment is not None:
        headers["x-inferstack-deployment"] = deployment.id
    return headers
