"""AgentClient: the console's calls to the agent's HTTP API at `console.agent_url`.

The console signs users in itself (sessions.py) and then calls the agent with the one key the agent accepts,
its `server_api_key` (configured here as `console.agent_api_key`; none when the agent is open). The user's own
key is never forwarded: the agent does not know virtual keys. Ingest requests never carry the stack owner's key,
so the console can only ingest folders inside the agent's `ingest_roots`.

Every query gets a fresh W3C `traceparent`, so its spans form one trace whose id the console returns (for a
streamed query, in a first `trace` event before the agent's own `route`, `token`, `done` and `error` events).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from inferstack.core.errors import UpstreamError
from inferstack.gateway.console.http_pool import LazyHttpSession

_QUERY_TIMEOUT_S = 180.0
_CALL_TIMEOUT_S = 30.0


class AgentReply:
    """One reply of the agent: status, parsed JSON body and the trace id the console gave the request."""

    def __init__(self, status: int, body: Any, trace_id: str | None = None) -> None:
        self.status = status
        self.body = body
        self.trace_id = trace_id


class AgentClient:
    def __init__(self, url: str, api_key: str | None) -> None:
        self.url = url.rstrip("/")
        self._api_key = api_key
        self._http = LazyHttpSession()

    async def close(self) -> None:
        await self._http.close()

    def _client(self) -> aiohttp.ClientSession:
        return self._http.get()

    def _headers(self, *, traced: bool) -> tuple[dict[str, str], str | None]:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        trace_id = None
        if traced:
            trace_id = secrets.token_hex(16)
            headers["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"
        return headers, trace_id

    def _unreachable(self, exc: BaseException) -> UpstreamError:
        return UpstreamError(f"the agent at {self.url} did not answer ({type(exc).__name__})", code="agent_unreachable")

    async def call(
        self, method: str, path: str, *, json: Any = None, timeout_s: float = _CALL_TIMEOUT_S, traced: bool = False
    ) -> AgentReply:
        headers, trace_id = self._headers(traced=traced)
        try:
            async with self._client().request(
                method, self.url + path, json=json, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unreachable(exc) from None
        return _reply(status, raw, trace_id)

    async def ask_stream(self, question: dict[str, Any]) -> AgentReply | AsyncIterator[bytes]:
        """The agent's `POST /query/stream`: on 200 its SSE events as they arrive, after a first `trace` event with
        the trace id the console gave the query; otherwise the agent's error as a reply."""
        headers, trace_id = self._headers(traced=True)
        timeout = aiohttp.ClientTimeout(total=_QUERY_TIMEOUT_S, sock_connect=5)
        try:
            response = await self._client().post(
                self.url + "/query/stream", json=question, headers=headers, timeout=timeout
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unreachable(exc) from None
        if response.status != 200:
            try:
                return _reply(response.status, await response.read(), trace_id)
            finally:
                response.release()

        async def events() -> AsyncIterator[bytes]:
            try:
                yield b"event: trace\ndata: " + orjson.dumps({"trace_id": trace_id}) + b"\n\n"
                async for chunk in response.content.iter_any():
                    yield chunk
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = {"error": {"message": str(self._unreachable(exc)), "type": "upstream_error"}}
                yield b"event: error\ndata: " + orjson.dumps(error) + b"\n\n"
            finally:
                response.release()

        return events()

    async def ask(self, question: dict[str, Any]) -> AgentReply:
        return await self.call("POST", "/query", json=question, timeout_s=_QUERY_TIMEOUT_S, traced=True)

    async def knowledge(self) -> AgentReply:
        """The ingested documents (`/knowledge/sources`) with the totals of `/status`."""
        sources = await self.call("GET", "/knowledge/sources")
        if sources.status != 200:
            return sources
        status = await self.call("GET", "/status")
        documents = sources.body.get("data", []) if isinstance(sources.body, dict) else []
        totals = status.body.get("knowledge", {}) if status.status == 200 and isinstance(status.body, dict) else {}
        running = status.body.get("ingest_running") if status.status == 200 and isinstance(status.body, dict) else None
        return AgentReply(
            200,
            {
                "documents": documents,
                "document_count": len(documents),
                "chunk_count": sum(int(d.get("chunks", 0)) for d in documents),
                "last_updated": totals.get("last_updated"),
                "ingest_running": running,
            },
        )

    async def ingest(self, path: str, force: bool) -> AgentReply:
        return await self.call("POST", "/ingest", json={"path": path, "force": force})

    async def ingest_job(self, job_id: str) -> AgentReply:
        return await self.call("GET", f"/ingest/{quote(job_id, safe='')}")

    async def health(self, timeout_s: float) -> AgentReply | str:
        """The agent's `/health` (its status and dependency map), or why it did not answer."""
        try:
            return await self.call("GET", "/health", timeout_s=timeout_s)
        except UpstreamError as exc:
            return str(exc)

    async def remove(self, source: str) -> AgentReply:
        return await self.call("DELETE", f"/knowledge/sources/{quote(source, safe='')}", timeout_s=120)


def _reply(status: int, raw: bytes, trace_id: str | None) -> AgentReply:
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = {"error": {"message": raw[:200].decode("utf-8", "replace"), "type": "upstream_error"}}
    if status == 401:
        # The agent refused the console's key: a configuration problem, not the signed-in user's.
        body = {
            "error": {
                "message": "the agent refused the console's key (console.agent_api_key)",
                "type": "upstream_error",
                "code": "agent_key_refused",
            }
        }
        status = 502
    return AgentReply(status, body, trace_id)
