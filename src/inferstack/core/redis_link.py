"""`RedisLink`: one asyncio Redis client as every inferstack component opens it — bounded socket timeouts, a
description that never carries the password, and the exceptions that mean "Redis did not answer". The redis
package is imported here only, when a link is opened, never when a Redis-backed component is merely registered.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit


class RedisLink:
    """A Redis client (`client`), what counts as Redis being away (`errors`) and `redis://host:port` to log."""

    def __init__(self, url: str, *, socket_timeout_s: float) -> None:
        import redis.asyncio as redis_asyncio
        from redis.exceptions import NoScriptError, RedisError

        self.client: Any = redis_asyncio.Redis.from_url(
            url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s
        )
        self.errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self.no_script_error: type[BaseException] = NoScriptError
        parts = urlsplit(url)
        self.description = f"redis://{parts.hostname}:{parts.port or 6379}"  # never the password

    async def drop_connections(self) -> None:
        """Every pooled connection to a Redis that went away is dead: drop them all, or each would fail once
        after Redis returns."""
        with suppress(*self.errors):
            await self.client.connection_pool.disconnect()

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except self.errors:
            return False

    async def close(self) -> None:
        await self.client.aclose()
