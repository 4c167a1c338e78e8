"""Redis response cache (`cache.backend: redis`), shared by every gateway worker and replica; entries expire with
Redis TTLs. The redis package is imported when this cache is built, never when it is merely registered.

A Redis outage degrades to cache misses: the first failed call marks the cache down (logged once, see
`DependencyHealth`); while it is down requests skip Redis except one probe a second (`ProbeGate`), so a Redis
that hangs or refuses adds no latency per request; the first call that succeeds marks it up again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferstack.core.redis_link import RedisLink
from inferstack.gateway.cache.base import ResponseCache
from inferstack.gateway.dependency_health import DependencyHealth, ProbeGate

if TYPE_CHECKING:
    from inferstack.gateway.settings import CacheConfig

_SOCKET_TIMEOUT_S = 1.0


class RedisCache(ResponseCache):
    name = "redis"

    def __init__(self, url: str, *, ttl_s: float, namespace: str) -> None:
        self._redis = RedisLink(url, socket_timeout_s=_SOCKET_TIMEOUT_S)
        self.description = self._redis.description
        self.health = DependencyHealth("cache", self.description, degraded="no response cache (every request a miss)")
        self._gate = ProbeGate(self.health)
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._prefix = f"{namespace}:response:"

    @classmethod
    def from_config(cls, config: CacheConfig) -> RedisCache:
        if config.redis_url is None:
            raise ValueError("cache.redis_url is required when the cache is redis")
        return cls(config.redis_url.get_secret_value(), ttl_s=config.ttl_s, namespace=config.namespace)

    async def get(self, key: str) -> bytes | None:
        if not self._gate.may_call():
            return None
        try:
            value = await self._redis.client.get(self._prefix + key)
        except self._redis.errors as exc:
            await self._failed(exc)
            return None
        self._gate.answered()
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes) -> None:
        if not self._gate.may_call():
            return
        try:
            await self._redis.client.set(self._prefix + key, value, px=self._ttl_ms)
        except self._redis.errors as exc:
            await self._failed(exc)
            return
        self._gate.answered()

    async def _failed(self, exc: BaseException) -> None:
        self._gate.failed(exc)
        await self._redis.drop_connections()

    async def ping(self) -> bool:
        return await self._redis.ping()

    async def close(self) -> None:
        await self._redis.close()
