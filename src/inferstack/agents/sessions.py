"""Per-session conversation history behind one small interface: `SessionStore` (history, record, forget), kept in
this process by default (`MemorySessionStore`) or in Redis (`session_store_redis.RedisSessionStore`) so a
follow-up question answered by another agent replica still sees the conversation.

Either way a session is bounded: `max_turns` turns (oldest dropped first), forgotten after `ttl_s` without use;
in memory also at most `max_sessions` sessions (least recently used dropped). Each query builds its prompt from
a snapshot of its own session's turns, so concurrent queries never share conversation state.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inferstack.agents.settings import AgentSettings


@dataclass(frozen=True)
class Turn:
    """One question and the answer given to it."""

    question: str
    answer: str
    route: str
    at: float


class SessionStore:
    """Where sessions live. `history` and `record` never fail a query: a store that cannot answer gives no
    history and keeps nothing (and says so in the log); `exists` and `forget` raise when it cannot answer."""

    name = "base"

    @staticmethod
    def new_id() -> str:
        return f"sess-{uuid.uuid4().hex[:16]}"

    def __len__(self) -> int:
        """Sessions held in this process's memory (0 for a shared store, which holds none here)."""
        return 0

    async def history(self, session_id: str) -> tuple[Turn, ...]:
        """A snapshot of the session's turns, oldest first (empty for an unknown session)."""
        raise NotImplementedError

    async def record(self, session_id: str, question: str, answer: str, route: str) -> None:
        raise NotImplementedError

    async def exists(self, session_id: str) -> bool:
        raise NotImplementedError

    async def forget(self, session_id: str) -> bool:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class MemorySessionStore(SessionStore):
    """Sessions of this process only (`session_store.backend: memory`, the default)."""

    name = "memory"

    def __init__(self, *, max_turns: int, max_sessions: int, ttl_s: float = 86400.0) -> None:
        if max_turns < 0 or max_sessions < 1 or ttl_s <= 0:
            raise ValueError("max_turns must be >= 0, max_sessions >= 1 and ttl_s > 0")
        self._max_turns = max_turns
        self._max_sessions = max_sessions
        self._ttl_s = ttl_s
        self._sessions: OrderedDict[str, tuple[deque[Turn], float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def _live(self, session_id: str) -> deque[Turn] | None:
        entry = self._sessions.get(session_id)
        if entry is None:
            return None
        turns, used = entry
        now = time.monotonic()
        if now - used > self._ttl_s:
            del self._sessions[session_id]
            return None
        self._sessions[session_id] = (turns, now)
        self._sessions.move_to_end(session_id)
        return turns

    async def history(self, session_id: str) -> tuple[Turn, ...]:
        turns = self._live(session_id)
        return () if turns is None else tuple(turns)

    async def record(self, session_id: str, question: str, answer: str, route: str) -> None:
        turns = self._live(session_id)
        if turns is None:
            turns = deque(maxlen=self._max_turns)
            self._sessions[session_id] = (turns, time.monotonic())
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)
        turns.append(Turn(question=question, answer=answer, route=route, at=time.time()))

    async def exists(self, session_id: str) -> bool:
        return self._live(session_id) is not None

    async def forget(self, session_id: str) -> bool:
        return self._sessions.pop(session_id, None) is not None


def build_session_store(settings: AgentSettings) -> SessionStore:
    """The store `session_store.backend` names; the redis one (and the redis package) is imported only when chosen."""
    config = settings.session_store
    if config.backend == "redis":
        from inferstack.agents.session_store_redis import RedisSessionStore

        if config.redis_url is None:
            raise ValueError("agent.session_store.redis_url is required when session_store.backend is redis")
        return RedisSessionStore(
            config.redis_url.get_secret_value(),
            max_turns=settings.session_turns,
            ttl_s=config.ttl_s,
            namespace=config.namespace,
        )
    return MemorySessionStore(max_turns=settings.session_turns, max_sessions=settings.max_sessions, ttl_s=config.ttl_s)
