"""`FakeUpstream`: an in-process `Upstream` answered by a function, like httpx's `MockTransport`.

The handler sees each request (`UpstreamRequest`) and returns a `FakeAnswer`: a JSON reply, an SSE stream
(optionally breaking part-way), a delay, or a connection failure. Timeouts behave as in production: an
answer delayed past the attempt's timeout raises `UpstreamFailure("timeout", ...)`. No sockets, no threads.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.upstreams.base import UpstreamFailure, UpstreamReply
from inferstack.openai_api.sse import DONE_EVENT, sse_event


@dataclass(frozen=True)
class UpstreamRequest:
    """What the gateway sent to one deployment."""

    deployment_id: str
    path: str
    body: bytes
    timeout_s: float
    authorization: str | None
    stream: bool

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


@dataclass(frozen=True)
class FakeAnswer:
    """How the fake answers one request.

    `events` makes a 200 stream of those SSE blocks; `break_after` breaks the stream after that many blocks;
    `fail` ("connect") raises a connection failure instead of answering; `delay_s` waits before answering
    (past the timeout this is a timeout failure); `chunk_delay_s` waits before each streamed block.
    """

    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    events: Sequence[bytes] | None = None
    break_after: int | None = None
    fail: str | None = None
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0

    @classmethod
    def json(cls, payload: dict[str, Any], status: int = 200) -> FakeAnswer:
        return cls(status=status, body=orjson.dumps(payload))

    @classmethod
    def stream(cls, payloads: Sequence[dict[str, Any]], **options: Any) -> FakeAnswer:
        """An OpenAI-style stream: one `data:` event per payload, then `[DONE]`."""
        return cls(events=[*(sse_event(p) for p in payloads), DONE_EVENT], **options)


Handler = Callable[[UpstreamRequest], FakeAnswer | Awaitable[FakeAnswer]]


class FakeStream:
    def __init__(self, upstream: FakeUpstream, answer: FakeAnswer, timeout_s: float) -> None:
        self._upstream = upstream
        self._answer = answer
        self._timeout_s = timeout_s
        self.released = False

    async def chunks(self) -> AsyncIterator[bytes]:
        for index, block in enumerate(self._answer.events or ()):
            if self._answer.break_after is not None and index >= self._answer.break_after:
                raise UpstreamFailure("stream", "upstream closed the connection")
            if self._answer.chunk_delay_s:
                if self._answer.chunk_delay_s >= self._timeout_s:
                    await asyncio.sleep(self._timeout_s)
                    raise UpstreamFailure("timeout", "no data within the read timeout")
                await asyncio.sleep(self._answer.chunk_delay_s)
            yield block

    def release(self) -> None:
        if self.released:
            raise AssertionError("stream released twice")
        self.released = True
        self._upstream.open_streams -= 1


@dataclass
class FakeUpstream:
    """An `Upstream` whose answers come from `handler`; records every request it saw."""

    handler: Handler
    requests: list[UpstreamRequest] = field(default_factory=list)
    open_streams: int = 0
    probe_answers: dict[str, str | None] = field(default_factory=dict)
    started: bool = False

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.started = False

    async def _answer(self, request: UpstreamRequest) -> FakeAnswer:
        self.requests.append(request)
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if answer.fail is not None:
            raise UpstreamFailure(answer.fail, f"cannot connect to {request.deployment_id}")
        if answer.delay_s:
            if answer.delay_s >= request.timeout_s:
                await asyncio.sleep(request.timeout_s)
                raise UpstreamFailure("timeout", f"no reply within {request.timeout_s:g} s")
            await asyncio.sleep(answer.delay_s)
        return answer

    async def post(self, deployment: Deployment, path: str, body: bytes, timeout_s: float) -> UpstreamReply:
        answer = await self._answer(
            UpstreamRequest(deployment.id, path, body, timeout_s, deployment.upstream_auth, stream=False)
        )
        return UpstreamReply(answer.status, answer.body, answer.content_type)

    async def open_stream(
        self, deployment: Deployment, path: str, body: bytes, timeout_s: float
    ) -> FakeStream | UpstreamReply:
        answer = await self._answer(
            UpstreamRequest(deployment.id, path, body, timeout_s, deployment.upstream_auth, stream=True)
        )
        if answer.status != 200 or answer.events is None:
            return UpstreamReply(answer.status, answer.body, answer.content_type)
        self.open_streams += 1
        return FakeStream(self, answer, timeout_s)

    async def probe(self, deployment: Deployment, path: str, timeout_s: float) -> str | None:
        return self.probe_answers.get(deployment.id)
