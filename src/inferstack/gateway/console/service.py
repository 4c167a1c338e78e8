"""ConsoleService: what the console does, without a web framework.

It signs users in with the master key or a virtual key (checked by the gateway's key registry), keeps the key
server-side, sealed in a session every gateway on the same key store sees (sessions.py), and calls the gateway's
own HTTP API on the user's behalf over loopback, so every console action passes the same authentication, role
checks, limits, budgets and accounting as any client.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from opentelemetry import propagate

from inferstack.gateway.console.agent import AgentClient
from inferstack.gateway.console.http_pool import LazyHttpSession
from inferstack.gateway.console.replay import trace_links
from inferstack.gateway.console.sessions import Session, SessionTable
from inferstack.gateway.console.usage import summarize, to_csv
from inferstack.gateway.keys.registry import KeyRegistry
from inferstack.observability.trace_store import StoredSpan, TraceStore

_PROBE_TIMEOUT_S = 2.0
_TRACE_POLL_S = 0.25
_METRIC_LINE = re.compile(r"^(vllm:[a-z_]+)(?:\{[^}]*\})?\s+([0-9.eE+-]+)$")
# The agent's /health names its dependencies by setting; the Services table uses the names people know.
_SERVICE_NAMES = {
    "gateway": "gateway (from the agent)",
    "vector_store": "knowledge store",
    "web_search": "web-search MCP",
    "filesystem": "filesystem MCP",
    "weather": "weather MCP",
}
_SERVER_METRICS = ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc")


class GatewayReply:
    """A reply of the gateway's own API: status and parsed JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


class ConsoleService:
    def __init__(
        self,
        registry: KeyRegistry,
        deployments: Callable[[], dict[str, list[dict[str, object]]]],
        *,
        sessions: SessionTable,
        trace_store: Path | None = None,
        agent: AgentClient | None = None,
        trace_link_bases: dict[str, str] | None = None,
    ) -> None:
        self.registry = registry
        self.deployments = deployments
        self.sessions = sessions  # in the key store's database, shared by every gateway on it
        self.trace_store_path = trace_store
        self._traces: TraceStore | None = None
        self._http = LazyHttpSession()
        self.agent = agent  # None: the Ask and Knowledge pages say the agent is not configured
        self.trace_link_bases = trace_link_bases or {}  # Langfuse / Phoenix web UIs each trace links to

    async def close(self) -> None:
        if self.agent is not None:
            await self.agent.close()
        await self._http.close()

    def _client(self) -> aiohttp.ClientSession:
        return self._http.get()

    async def sign_in(self, key: str) -> tuple[str, Session]:
        """A session for a valid key; raises the registry's 401 for anything else."""
        state = await self.registry.authenticate(f"Bearer {key}")
        if state.is_master:
            return await self.sessions.create(key=key, role="admin", token="", name="master key")
        record = state.record
        name = record.key_alias or record.key_name or record.token[:12]
        return await self.sessions.create(key=key, role="key", token=record.token, name=name)

    def _headers(self, session: Session) -> dict[str, str]:
        return {"Authorization": f"Bearer {session.key}"}

    async def call(
        self,
        session: Session,
        base: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> GatewayReply:
        """The gateway's own API at `base` (this process's loopback address) with the session's key. The call
        joins the trace of the console request that made it (left out of the Traces page with it); playground chats
        (`stream_chat`) stay traces of their own."""
        headers = self._headers(session)
        propagate.inject(headers)
        async with self._client().request(
            method,
            base + path,
            json=json,
            params=params,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=60),
        ) as response:
            raw = await response.read()
            try:
                body = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                body = {"error": {"message": raw[:200].decode("utf-8", "replace"), "type": "upstream_error"}}
            return GatewayReply(response.status, body)

    async def stream_chat(
        self, session: Session, base: str, body: dict[str, Any]
    ) -> tuple[int, str, AsyncIterator[bytes]]:
        """`/v1/chat/completions` with the session's key: status, content type and the body as it arrives."""
        response = await self._client().post(
            base + "/v1/chat/completions",
            json=body,
            headers=self._headers(session),
            timeout=aiohttp.ClientTimeout(total=600, sock_read=300),
        )

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.content.iter_any():
                    yield chunk
            finally:
                response.release()

        return response.status, response.headers.get("Content-Type", "application/json"), chunks()

    async def key_names(self, session: Session, base: str) -> dict[str, str]:
        if session.role != "admin":
            return {session.token: session.name}
        reply = await self.call(session, base, "GET", "/key/list", params={"include_revoked": "true"})
        keys = reply.body.get("keys", []) if reply.status == 200 and isinstance(reply.body, dict) else []
        return {k["token"]: k.get("key_alias") or k.get("key_name") or k["token"][:12] for k in keys}

    async def spend_rows(self, session: Session, base: str, days: int) -> GatewayReply:
        import time

        start = str(time.time() - days * 86400)
        return await self.call(session, base, "GET", "/spend/logs", params={"start_date": start, "limit": "100000"})

    async def usage(self, session: Session, base: str, days: int) -> tuple[GatewayReply, dict[str, Any] | None]:
        reply = await self.spend_rows(session, base, days)
        if reply.status != 200:
            return reply, None
        return reply, summarize(reply.body, await self.key_names(session, base))

    async def usage_csv(self, session: Session, base: str, days: int) -> tuple[GatewayReply, str | None]:
        reply = await self.spend_rows(session, base, days)
        if reply.status != 200:
            return reply, None
        return reply, to_csv(reply.body, await self.key_names(session, base))

    def _store(self) -> TraceStore | None:
        if self.trace_store_path is None:
            return None
        if self._traces is None:
            self._traces = TraceStore(self.trace_store_path)
        return self._traces

    async def traces(
        self, limit: int, session: str | None = None, key_id: str | None = None
    ) -> list[dict[str, Any]] | None:
        """The newest traces of the local trace store (of one session and/or made with one key, if given), each
        with its links to Langfuse or Phoenix; None when the gateway has no store configured."""
        store = self._store()
        if store is None:
            return None
        summaries = await asyncio.to_thread(lambda: store.list_traces(limit * 4, session=session, key_id=key_id))
        # The console's own page and API requests are traced too; they are left out of its list.
        kept = [s for s in summaries if " /ui/" not in s.root_name and not s.root_name.endswith(" /ui")]
        return [
            s.__dict__ | {"start_s": s.start_ns / 1e9, "links": trace_links(self.trace_link_bases, s.trace_id)}
            for s in kept[:limit]
        ]

    async def trace(self, trace_id: str, *, wait_s: float = 0.0) -> list[StoredSpan] | None:
        """A trace's spans ([] for an unknown trace, None without a trace store). A trace opened right after its
        request may not be stored yet (each service sends its spans to the store every second), so an unknown
        trace is looked up again for up to `wait_s`."""
        store = self._store()
        if store is None:
            return None
        deadline = time.monotonic() + wait_s
        while True:
            spans = await asyncio.to_thread(store.spans, trace_id)
            if spans or time.monotonic() >= deadline:
                return spans
            await asyncio.sleep(_TRACE_POLL_S)

    def chat_models(self) -> set[str]:
        """The model names with at least one chat deployment (model_info.mode `chat`, the default)."""
        return {
            name for name, group in self.deployments().items() if any(d.get("mode", "chat") == "chat" for d in group)
        }

    async def health(self, base: str) -> dict[str, Any]:
        """Every deployment's state, each distinct model server's /health and vLLM-named load metrics, and the
        services of the stack: this gateway, the agent and each dependency the agent reports (MCP servers,
        knowledge store), when the console knows the agent."""
        deployments = self.deployments()
        bases = sorted({str(d["api_base"]) for group in deployments.values() for d in group})
        servers, services = await asyncio.gather(
            asyncio.gather(*(self._probe(base) for base in bases)), self._services(base)
        )
        return {
            "deployments": deployments,
            "servers": servers,
            "agent_configured": self.agent is not None,
            "services": services,
        }

    async def _services(self, base: str) -> list[dict[str, Any]]:
        gateway = {"name": "gateway", "url": base, "state": "ok", "detail": "serving this console"}
        if self.agent is None:
            return [gateway]
        reply = await self.agent.health(_PROBE_TIMEOUT_S)
        agent: dict[str, Any] = {"name": "agent", "url": self.agent.url}
        if isinstance(reply, str):
            return [gateway, agent | {"state": "unreachable", "detail": reply}]
        body = reply.body if isinstance(reply.body, dict) else {}
        state = str(body.get("status") or f"HTTP {reply.status}")
        dependencies = body.get("dependencies")
        if not isinstance(dependencies, dict):
            dependencies = {}
        healthy = sum(1 for d in dependencies.values() if isinstance(d, dict) and d.get("ok"))
        detail = f"{healthy} of {len(dependencies)} dependencies ok" if dependencies else f"HTTP {reply.status}"
        rows = [gateway, agent | {"state": state, "detail": detail}]
        for name, dependency in dependencies.items():
            if not isinstance(dependency, dict):
                continue
            rows.append(
                {
                    "name": _SERVICE_NAMES.get(name, name),
                    "url": None,
                    "state": str(dependency.get("status", "unknown")),
                    "detail": str(dependency.get("detail") or dependency.get("error") or ""),
                    "required": bool(dependency.get("required", False)),
                    "via": "agent",
                }
            )
        return rows

    async def _probe(self, api_base: str) -> dict[str, Any]:
        root = api_base.rstrip("/").removesuffix("/v1")
        server: dict[str, Any] = {"url": root, "reachable": False, "health": None, "metrics": {}}
        timeout = aiohttp.ClientTimeout(total=_PROBE_TIMEOUT_S)
        try:
            async with self._client().get(root + "/health", timeout=timeout) as response:
                server["reachable"] = True
                server["status"] = response.status
                if response.content_type == "application/json":
                    server["health"] = await response.json()
            async with self._client().get(root + "/metrics", timeout=timeout) as response:
                if response.status == 200:
                    server["metrics"] = _server_metrics(await response.text())
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass
        return server


def _server_metrics(text: str) -> dict[str, float]:
    """Sums of the vLLM-named load gauges in a Prometheus text page."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if match and match.group(1) in _SERVER_METRICS:
            found[match.group(1)] = found.get(match.group(1), 0.0) + float(match.group(2))
    return found
