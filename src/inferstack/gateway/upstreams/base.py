"""The `Upstream` interface: post JSON, open an SSE stream, probe health. No HTTP library type crosses it.

An upstream is a dumb transport (like httpx's `BaseTransport`): it returns whatever status the model server
answered and raises `UpstreamFailure` only when no answer came (connection refused or lost, timeout).
Whether a status deserves another attempt is the caller's decision (`failure_for_status`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from inferstack.gateway.routing.deployment import Deployment

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class UpstreamFailure(Exception):  # noqa: N818 - a failure report, raised and caught inside the gateway
    """An attempt that failed in a way another attempt (or deployment) might not.

    `kind` is a metric label: "connect", "timeout", "status" (a retryable HTTP status) or "stream" (the
    connection broke mid-stream). `summary` never holds URLs, headers or bodies (they may carry secrets).
    """

    def __init__(self, kind: str, summary: str, *, status: int | None = None, body: bytes = b"") -> None:
        super().__init__(summary)
        self.kind = kind
        self.summary = summary
        self.status = status
        self.body = body

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE_STATUS


@dataclass(frozen=True)
class UpstreamReply:
    """A complete upstream answer, any status."""

    status: int
    body: bytes
    content_type: str


class UpstreamStream(Protocol):
    """An open 200 streaming answer. `chunks()` yields raw bytes as they arrive and raises `UpstreamFailure`
    (kind "stream" or "timeout") when the connection breaks; `release()` must be called once, always."""

    def chunks(self) -> AsyncIterator[bytes]: ...

    def release(self) -> None: ...


class Upstream(Protocol):
    """An OpenAI-compatible model server reached at each deployment's `api_base`."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def post(self, deployment: Deployment, path: str, body: bytes, timeout_s: float) -> UpstreamReply:
        """POST a JSON body and read the whole answer (whatever its status)."""
        ...

    async def open_stream(
        self, deployment: Deployment, path: str, body: bytes, timeout_s: float
    ) -> UpstreamStream | UpstreamReply:
        """POST a streaming request: an open stream when the answer is 200, else the complete answer."""
        ...

    async def probe(self, deployment: Deployment, path: str, timeout_s: float) -> str | None:
        """GET `path`: None when it answers 200, else a short reason."""
        ...


def failure_for_status(reply: UpstreamReply) -> UpstreamFailure | None:
    """The failure to retry on when `reply`'s status says another attempt might do better."""
    if reply.status in RETRYABLE_STATUS:
        return UpstreamFailure("status", f"HTTP {reply.status}", status=reply.status, body=reply.body)
    return None
