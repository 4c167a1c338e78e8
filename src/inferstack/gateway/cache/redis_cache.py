"""Redis response cache (shared by every gateway worker and replica); entries expire with Redis TTLs.

A Redis outage degrades to cache misses (logged once per outage) instead of failing requests.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class RedisCache:
    def __init__(self, url: str, *, ttl_s: float, namespace: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        parts = urlsplit(url)
        self.description = f"redis://{parts.hostname}:{parts.port or 6379}"  # never the password
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._prefix = f"{namespace}:response:"
        self._failing = False

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(self._prefix + key)
        except (RedisError, OSError) as exc:
            self._report(exc)
            return None
        self._failing = False
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes) -> None:
        try:
            await self._client.set(self._prefix + key, value, px=self._ttl_ms)
        except (RedisError, OSError) as exc:
            self._report(exc)

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    def _report(self, exc: Exception) -> None:
        if not self._failing:
            log.warning("redis cache unavailable, serving without cache: %s", type(exc).__name__)
        self._failing = True

    async def close(self) -> None:
        await self._client.aclose()
