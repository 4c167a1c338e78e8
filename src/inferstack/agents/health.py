"""Dependency probes behind GET /health: the model gateway, the vector store, and each MCP server.

Ready (HTTP 200) needs the gateway and the vector store. An MCP server that is down makes the agent `degraded`,
still 200: it answers from the knowledge base and says web search is unavailable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from inferstack.agents.mcp_tools import DependencyHealth, McpToolClient
from inferstack.retrieval.stores.base import VectorStore

_REQUIRED = ("gateway", "vector_store")


def _entry(required: bool, result: DependencyHealth) -> dict[str, Any]:
    if result.ok:
        return {"ok": True, "status": "ok", "required": required, "detail": result.detail}
    return {"ok": False, "status": "down" if required else "degraded", "required": required, "error": result.detail}


@dataclass(frozen=True)
class HealthReport:
    status: str  # "ok" | "degraded" | "unavailable" | "starting"
    dependencies: dict[str, dict[str, Any]]

    @property
    def ready(self) -> bool:
        return self.status in ("ok", "degraded")


class HealthProbe:
    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        models_url: str,
        api_key: str | None,
        store: VectorStore,
        mcp_servers: dict[str, McpToolClient],
        timeout_s: float,
    ) -> None:
        self._http = http
        self._models_url = models_url.rstrip("/") + "/models"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._store = store
        self._mcp = mcp_servers
        self._timeout = timeout_s

    async def gateway(self) -> DependencyHealth:
        try:
            response = await self._http.get(self._models_url, headers=self._headers, timeout=self._timeout)
        except httpx.HTTPError as exc:
            return DependencyHealth(ok=False, detail=f"unreachable: {type(exc).__name__}")
        if response.status_code != 200:
            return DependencyHealth(ok=False, detail=f"GET /models answered HTTP {response.status_code}")
        return DependencyHealth(ok=True, detail="ok")

    async def vector_store(self) -> DependencyHealth:
        try:
            async with asyncio.timeout(self._timeout):
                chunks = await self._store.count()
        except TimeoutError:
            return DependencyHealth(ok=False, detail="count timed out")
        except Exception as exc:  # noqa: BLE001 - any store failure makes the probe fail, with its message
            return DependencyHealth(ok=False, detail=f"{type(exc).__name__}: {str(exc)[:200]}")
        return DependencyHealth(ok=True, detail=f"{chunks} chunks")

    async def check(self) -> HealthReport:
        names = [*_REQUIRED, *self._mcp]
        probes = [self.gateway(), self.vector_store(), *(client.health(self._http) for client in self._mcp.values())]
        results = dict(zip(names, await asyncio.gather(*probes), strict=True))
        dependencies = {name: _entry(name in _REQUIRED, result) for name, result in results.items()}
        if not (results["gateway"].ok and results["vector_store"].ok):
            status = "unavailable"
        elif all(result.ok for result in results.values()):
            status = "ok"
        else:
            status = "degraded"
        return HealthReport(status=status, dependencies=dependencies)
