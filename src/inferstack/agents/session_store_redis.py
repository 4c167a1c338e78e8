"""`RedisSessionStore` (`session_store.backend: redis`): sessions shared by every agent replica using one Redis, so
a follow-up question may land on any replica. The redis package is imported when this store is built.

A session is one Redis list of JSON turns, `<namespace>:session:<id>`: appended, trimmed to `max_turns` and given
its TTL in one transaction; reading it renews the TTL. Redis away: queries go on without history (logged once per
outage), GET/DELETE /sessions/{id} answer 503.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

import orjson

from inferstack.agents.sessions import SessionStore, Turn
from inferstack.core.errors import OverloadedError
from inferstack.core.redis_link import RedisLink

log = logging.getLogger(__name__)

_SOCKET_TIMEOUT_S = 2.0


class SessionStoreUnavailableError(OverloadedError):
    default_code = "session_store_unavailable"


class RedisSessionStore(SessionStore):
    name = "redis"

    def __init__(self, url: str, *, max_turns: int, ttl_s: float, namespace: str = "inferstack") -> None:
        if max_turns < 0 or ttl_s <= 0:
            raise ValueError("max_turns must be >= 0 and ttl_s > 0")
        self._redis = RedisLink(url, socket_timeout_s=_SOCKET_TIMEOUT_S)
        self._client: Any = self._redis.client
        self._errors = self._redis.errors
        self.description = self._redis.description
        self._max_turns = max_turns
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._prefix = f"{namespace}:session:"
        self._down = False

    def _key(self, session_id: str) -> str:
        return self._prefix + session_id

    def _failed(self, exc: BaseException, doing: str) -> None:
        if not self._down:
            log.warning("session store (%s) unavailable while %s: %s", self.description, doing, type(exc).__name__)
        self._down = True

    def _answered(self) -> None:
        if self._down:
            log.warning("session store (%s) reachable again", self.description)
        self._down = False

    async def history(self, session_id: str) -> tuple[Turn, ...]:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.lrange(self._key(session_id), 0, -1)
                pipe.pexpire(self._key(session_id), self._ttl_ms)
                items, _ = await pipe.execute()
        except self._errors as exc:
            self._failed(exc, "reading a session")
            return ()
        self._answered()
        return tuple(Turn(**orjson.loads(item)) for item in items)

    async def record(self, session_id: str, question: str, answer: str, route: str) -> None:
        turn = Turn(question=question, answer=answer, route=route, at=time.time())
        key = self._key(session_id)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.rpush(key, orjson.dumps(asdict(turn)))
                if self._max_turns:
                    pipe.ltrim(key, -self._max_turns, -1)
                else:
                    pipe.ltrim(key, 1, 0)  # keeps nothing
                pipe.pexpire(key, self._ttl_ms)
                await pipe.execute()
        except self._errors as exc:
            self._failed(exc, "recording a turn")
            return
        self._answered()

    async def exists(self, session_id: str) -> bool:
        return bool(await self._call("exists", session_id))

    async def forget(self, session_id: str) -> bool:
        return bool(await self._call("delete", session_id))

    async def _call(self, command: str, session_id: str) -> Any:
        try:
            result = await getattr(self._client, command)(self._key(session_id))
        except self._errors as exc:
            self._failed(exc, f"{command} of a session")
            raise SessionStoreUnavailableError(
                "the session store (Redis) is unavailable; retry shortly", retry_after=1.0
            ) from None
        self._answered()
        return result

    async def ping(self) -> bool:
        return await self._redis.ping()

    async def close(self) -> None:
        await self._redis.close()
