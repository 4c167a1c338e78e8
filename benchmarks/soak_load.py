"""The soak's client side: workers that send one request shape in a loop, paced to a rate or as fast as the
service answers, and record every latency, status and usage in the current sampling window.

Memory here is bounded by one window (the latencies of a few seconds); totals are plain counters.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson


@dataclass(frozen=True)
class RequestShape:
    """What every soak request is: a POST of `body` (or of the next of `bodies`) to `url`."""

    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 30.0
    bodies: tuple[dict[str, Any], ...] = ()
    # MCP: the answer opens a session (its id in `mcp-session-id`); DELETE it after, as a client that opens one
    # session per tool call does. The DELETE is part of the request's latency.
    close_session: bool = False

    def body_for(self, index: int) -> dict[str, Any]:
        return self.bodies[index % len(self.bodies)] if self.bodies else self.body


@dataclass
class Window:
    """What happened between two samples."""

    latencies_ms: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)


@dataclass
class Totals:
    """Counts over the whole run; tokens are those the service reported in each successful answer's usage."""

    ok: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: Counter[str] = field(default_factory=Counter)


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending, non-empty list."""
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Load:
    """`concurrency` workers posting `shape` until `stop_at` (monotonic) or `max_requests` sent; `rate` > 0
    paces the starts to that many per second (fewer when answers are slower than the workers allow)."""

    def __init__(
        self, shape: RequestShape, *, concurrency: int, rate: float, stop_at: float, max_requests: int | None
    ) -> None:
        self.shape = shape
        self.concurrency = concurrency
        self.rate = rate
        self.stop_at = stop_at
        self.max_requests = max_requests
        self.totals = Totals()
        self.window = Window()
        self._sent = 0
        self._started = time.monotonic()

    def cut_window(self) -> Window:
        window, self.window = self.window, Window()
        return window

    def _next(self) -> int | None:
        """The index of the next request, or None when the run is over."""
        if time.monotonic() >= self.stop_at:
            return None
        if self.max_requests is not None and self._sent >= self.max_requests:
            return None
        self._sent += 1
        return self._sent - 1

    async def _worker(self, session: aiohttp.ClientSession) -> None:
        timeout = aiohttp.ClientTimeout(total=self.shape.timeout_s)
        while (index := self._next()) is not None:
            if self.rate > 0:
                delay = self._started + index / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            started = time.perf_counter()
            failure: str | None = None
            usage: dict[str, Any] | None = None
            try:
                async with session.post(
                    self.shape.url, json=self.shape.body_for(index), headers=self.shape.headers, timeout=timeout
                ) as response:
                    payload = await response.read()
                    session_id = response.headers.get("mcp-session-id")
                    if response.status != 200:
                        failure = f"http {response.status}"
                    elif not self.shape.close_session:
                        usage = orjson.loads(payload).get("usage")
                if failure is None and self.shape.close_session:
                    failure = await self._close_session(session, session_id, timeout)
            except TimeoutError:
                failure = "timeout"
            except aiohttp.ClientError as exc:
                failure = type(exc).__name__
            self._record(time.perf_counter() - started, failure, usage)

    async def _close_session(
        self, session: aiohttp.ClientSession, session_id: str | None, limits: aiohttp.ClientTimeout
    ) -> str | None:
        if session_id is None:
            return "no mcp-session-id"
        headers = {**self.shape.headers, "mcp-session-id": session_id}
        async with session.delete(self.shape.url, headers=headers, timeout=limits) as response:
            await response.read()
            return None if response.status == 200 else f"delete http {response.status}"

    def _record(self, seconds: float, failure: str | None, usage: dict[str, Any] | None) -> None:
        if failure is not None:
            self.totals.failed += 1
            self.totals.failures[failure] += 1
            self.window.failures[failure] += 1
            return
        self.totals.ok += 1
        self.window.latencies_ms.append(seconds * 1000)
        if usage:
            self.totals.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.totals.completion_tokens += int(usage.get("completion_tokens") or 0)

    async def run(self) -> None:
        self._started = time.monotonic()
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(self._worker(session) for _ in range(self.concurrency)))
