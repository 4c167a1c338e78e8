"""The production `Upstream`: one pooled aiohttp session for every deployment (measured faster than httpx).

URLs, auth headers and timeouts are built once per deployment and reused: yarl parsing and `ClientTimeout`
construction are measurable per request. aiohttp is imported only here in the gateway's request path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from opentelemetry import propagate
from yarl import URL

from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.upstreams.base import UpstreamFailure, UpstreamReply
from inferstack.observability.tracing import tracing_enabled

_JSON = {"Content-Type": "application/json"}


class AiohttpStream:
    """An open 200 streaming response; connection errors while reading become `UpstreamFailure`."""

    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except TimeoutError:
            raise UpstreamFailure("timeout", "no data within the read timeout") from None
        except aiohttp.ClientError as exc:
            raise UpstreamFailure("stream", _describe(exc)) from None

    def release(self) -> None:
        self._response.release()


# Timeouts are memoised per value; a request may name its own (`timeout`), so the memo keeps the first few values
# only (the configured ones come first) and builds any other per call.
MAX_MEMOISED_TIMEOUTS = 64


class AiohttpUpstream:
    """POST JSON / open SSE streams / probe against a deployment's `api_base`."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._stream_timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._urls: dict[tuple[str, str], URL] = {}
        self._auth_headers: dict[str, dict[str, str]] = {}
        self._propagate = tracing_enabled()  # checked once: without tracing no header is added per request

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
        # No Accept-Encoding: bodies are relayed as they come (auto_decompress is off), so a compressed answer
        # would reach clients undecoded; asking for none also saves the header on every request.
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent", "Accept-Encoding")
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("AiohttpUpstream.start() was not awaited")
        return self._session

    def _url(self, deployment: Deployment, path: str) -> URL:
        key = (deployment.config.api_base, path)
        url = self._urls.get(key)
        if url is None:
            url = self._urls[key] = URL(deployment.config.api_base + path)
        return url

    def _headers(self, deployment: Deployment) -> dict[str, str]:
        headers = _JSON if deployment.upstream_auth is None else self._auth_headers.get(deployment.id)
        if headers is None:
            headers = self._auth_headers[deployment.id] = {**_JSON, "Authorization": str(deployment.upstream_auth)}
        if self._propagate:  # W3C traceparent of the current attempt span
            headers = {**headers}
            propagate.inject(headers)
        return headers

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=seconds)
            if len(self._timeouts) < MAX_MEMOISED_TIMEOUTS:
                self._timeouts[seconds] = timeout
        return timeout

    def _stream_timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        """A stream may run long: the limit applies to connecting and to each wait for data, not the total."""
        timeout = self._stream_timeouts.get(seconds)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
            if len(self._stream_timeouts) < MAX_MEMOISED_TIMEOUTS:
                self._stream_timeouts[seconds] = timeout
        return timeout

    async def post(self, deployment: Deployment, path: str, body: bytes, timeout_s: float) -> UpstreamReply:
        try:
            async with self.session.post(
                self._url(deployment, path),
                data=body,
                headers=self._headers(deployment),
                timeout=self._timeout(timeout_s),
            ) as response:
                payload = await response.read()
                return UpstreamReply(response.status, payload, response.headers.get("Content-Type", ""))
        except TimeoutError:
            raise UpstreamFailure("timeout", f"no reply within {timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise UpstreamFailure("connect", _describe(exc)) from None

    async def open_stream(
        self, deployment: Deployment, path: str, body: bytes, timeout_s: float
    ) -> AiohttpStream | UpstreamReply:
        try:
            response = await self.session.post(
                self._url(deployment, path),
                data=body,
                headers=self._headers(deployment),
                timeout=self._stream_timeout(timeout_s),
            )
        except TimeoutError:
            raise UpstreamFailure("timeout", f"no reply within {timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise UpstreamFailure("connect", _describe(exc)) from None
        if response.status == 200:
            return AiohttpStream(response)
        try:
            payload = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            payload = b""
        finally:
            response.release()
        return UpstreamReply(response.status, payload, response.headers.get("Content-Type", ""))

    async def probe(self, deployment: Deployment, path: str, timeout_s: float) -> str | None:
        try:
            async with self.session.get(
                deployment.config.api_base + path, headers=self._headers(deployment), timeout=self._timeout(timeout_s)
            ) as response:
                await response.read()
                return None if response.status == 200 else f"HTTP {response.status}"
        except TimeoutError:
            return f"no reply within {timeout_s:g} s"
        except aiohttp.ClientError as exc:
            return _describe(exc)


def _describe(exc: aiohttp.ClientError) -> str:
    """A short reason without URLs, headers or bodies (those may carry secrets)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "upstream closed the connection"
    if isinstance(exc, aiohttp.ClientOSError) and exc.strerror:
        return f"connection error: {exc.strerror}"
    return type(exc).__name__
