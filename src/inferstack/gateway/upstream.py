"""HTTP calls to OpenAI-compatible upstreams on one pooled aiohttp session; failures become `UpstreamFailure`.

The gateway sees upstreams only through this module, so tests and other transports can replace it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from yarl import URL

from inferstack.gateway.routing.deployment import Deployment

_RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_JSON = {"Content-Type": "application/json"}


class UpstreamFailure(Exception):  # noqa: N818 - a failure report, raised and caught inside the gateway
    """An attempt that failed in a way another attempt (or deployment) might not."""

    def __init__(self, kind: str, summary: str, *, status: int | None = None, body: bytes = b"") -> None:
        super().__init__(summary)
        self.kind = kind
        self.summary = summary
        self.status = status
        self.body = body

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in _RETRYABLE_STATUS


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    body: bytes
    content_type: str


class OpenAIUpstream:
    """POST JSON / open SSE streams against a deployment's `api_base`."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._stream_timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._urls: dict[tuple[str, str], URL] = {}
        self._auth_headers: dict[str, dict[str, str]] = {}

    def _url(self, deployment: Deployment, path: str) -> URL:
        """Parsed once per deployment and path (yarl parsing is measurable per request)."""
        key = (deployment.config.api_base, path)
        url = self._urls.get(key)
        if url is None:
            url = self._urls[key] = URL(deployment.config.api_base + path)
        return url

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("OpenAIUpstream.start() was not awaited")
        return self._session

    def _headers(self, deployment: Deployment) -> dict[str, str]:
        if deployment.upstream_auth is None:
            return _JSON
        headers = self._auth_headers.get(deployment.id)
        if headers is None:
            headers = self._auth_headers[deployment.id] = {**_JSON, "Authorization": deployment.upstream_auth}
        return headers

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    def _stream_timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._stream_timeouts.get(seconds)
        if timeout is None:
            timeout = self._stream_timeouts[seconds] = aiohttp.ClientTimeout(
                total=None, sock_connect=seconds, sock_read=seconds
            )
        return timeout

    async def post(self, deployment: Deployment, path: str, body: bytes, timeout_s: float) -> UpstreamReply:
        """The full reply for any status; connection problems and retryable statuses raise `UpstreamFailure`."""
        url = self._url(deployment, path)
        try:
            async with self.session.post(
                url, data=body, headers=self._headers(deployment), timeout=self._timeout(timeout_s)
            ) as response:
                payload = await response.read()
                reply = UpstreamReply(response.status, payload, response.headers.get("Content-Type", ""))
        except TimeoutError:
            raise UpstreamFailure("timeout", f"no reply within {timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise UpstreamFailure("connect", _describe(exc)) from None
        if reply.status in _RETRYABLE_STATUS:
            raise UpstreamFailure("status", f"HTTP {reply.status}", status=reply.status, body=reply.body)
        return reply

    async def open_stream(
        self, deployment: Deployment, path: str, body: bytes, timeout_s: float
    ) -> aiohttp.ClientResponse:
        """An open streaming response with status 200 (caller must `release()` it), or a failure/non-200 reply."""
        url = self._url(deployment, path)
        try:
            response = await self.session.post(
                url, data=body, headers=self._headers(deployment), timeout=self._stream_timeout(timeout_s)
            )
        except TimeoutError:
            raise UpstreamFailure("timeout", f"no reply within {timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise UpstreamFailure("connect", _describe(exc)) from None
        if response.status == 200:
            return response
        try:
            payload = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            payload = b""
        finally:
            response.release()
        if response.status in _RETRYABLE_STATUS:
            raise UpstreamFailure("status", f"HTTP {response.status}", status=response.status, body=payload)
        raise UpstreamRejected(response.status, payload, response.headers.get("Content-Type", ""))

    async def probe(self, deployment: Deployment, path: str, timeout_s: float) -> str | None:
        """GET `path`; None when it answers 200, else a short reason."""
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
        except asyncio.CancelledError:
            raise


class UpstreamRejected(Exception):  # noqa: N818 - carries a non-retryable upstream reply to the client
    """The upstream refused the request itself (4xx): passed through to the client unchanged."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__(f"HTTP {status}")
        self.reply = UpstreamReply(status, body, content_type)


def _describe(exc: aiohttp.ClientError) -> str:
    """A short reason without URLs, headers or bodies (those may carry secrets)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "upstream closed the connection"
    if isinstance(exc, aiohttp.ClientOSError) and exc.strerror:
        return f"connection error: {exc.strerror}"
    return type(exc).__name__
