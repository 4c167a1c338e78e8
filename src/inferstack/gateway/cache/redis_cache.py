"""Redis response cache (`cache.backend: redis`), shared by every gateway worker and replica; entries expire with
Redis TTLs. The redis package is imported when this cache is built, never when it is merely registered.

A Redis outage degrades to cache misses: the first failed call marks the cache down (logged once, see
`DependencyHealth`); while it is down requests skip Redis except one probe per `_PROBE_INTERVAL_S`, so a Redis
that hangs or refuses adds no latency per request; the first call that succeeds marks it up again.
"""

from __future__ import annotations

import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from inferstack.gateway.cache.base import ResponseCache
from inferstack.gateway.dependency_health import DependencyHealth

if TYPE_CHECKING:
    from inferstack.gateway.settings import CacheConfig

_PROBE_INTERVAL_S = 1.0
_SOCKET_TIMEOUT_S = 1.0


class RedisCache(ResponseCache):
    name = "redis"

    def __init__(self, url: str, *, ttl_s: float, namespace: str) -> None:
        import redis.asyncio as redis_asyncio
        from redis.exceptions import RedisError

        self._client: Any = redis_asyncio.Redis.from_url(
            url, socket_timeout=_SOCKET_TIMEOUT_S, socket_connect_timeout=_SOCKET_TIMEOUT_S
        )
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        parts = urlsplit(url)
        self.description = f"redis://{parts.hostname}:{parts.port or 6379}"  # never the password
        self.health = DependencyHealth("cache", self.description, degraded="no response cache (every request a miss)")
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._prefix = f"{namespace}:response:"
        self._next_probe = 0.0

    @classmethod
    def from_config(cls, config: CacheConfig) -> RedisCache:
        if config.redis_url is None:
            raise ValueError("cache.redis_url is required when the cache is redis")
        return cls(config.redis_url.get_secret_value(), ttl_s=config.ttl_s, namespace=config.namespace)

    def _may_call(self) -> bool:
        """Always while up; while down, one call per probe interval (the others are misses without a call)."""
        if self.health is None or self.health.up:
            return True
        now = time.monotonic()
        if now < self._next_probe:
            return False
        self._next_probe = now + _PROBE_INTERVAL_S
        return True

    async def _failed(self, exc: BaseException) -> None:
        self._next_probe = time.monotonic() + _PROBE_INTERVAL_S
        if self.health is not None:
            self.health.mark_down(type(exc).__name__)
        # Every pooled connection to a Redis that went away is dead: drop them all now, or each would fail once
        # after Redis returns and mark the cache down again.
        with suppress(*self._errors):
            await self._client.connection_pool.disconnect()

    def _answered(self) -> None:
        if self.health is not None:
            self.health.mark_up()

    async def get(self, key: str) -> bytes | None:
        if not self._may_call():
            return None
        try:
            value = await self._client.get(self._prefix + key)
        except self._errors as exc:
            await self._failed(exc)
            return None
        self._answered()
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes) -> None:
        if not self._may_call():
            return
        try:
            await self._client.set(self._prefix + key, value, px=self._ttl_ms)
        except self._errors as exc:
            await self._failed(exc)
            return
        self._answered()

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except self._errors:
            return False

    async def close(self) -> None:
        await self._client.aclose()
