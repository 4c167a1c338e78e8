"""Per-session conversation history: a bounded number of turns per session, a bounded number of sessions (LRU).

Each query builds its own prompt from a snapshot of its session's turns, so concurrent queries never share
conversation state; only the session named by `session_id` contributes history.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    """One question and the answer given to it."""

    question: str
    answer: str
    route: str
    at: float


class SessionStore:
    """`max_turns` turns per session (oldest dropped first), `max_sessions` sessions (least recently used dropped)."""

    def __init__(self, *, max_turns: int, max_sessions: int) -> None:
        if max_turns < 0 or max_sessions < 1:
            raise ValueError("max_turns must be >= 0 and max_sessions >= 1")
        self._max_turns = max_turns
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[str, deque[Turn]] = OrderedDict()

    @staticmethod
    def new_id() -> str:
        return f"sess-{uuid.uuid4().hex[:16]}"

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._sessions

    def history(self, session_id: str) -> tuple[Turn, ...]:
        """A snapshot of the session's turns, oldest first (empty for an unknown session)."""
        turns = self._sessions.get(session_id)
        if turns is None:
            return ()
        self._sessions.move_to_end(session_id)
        return tuple(turns)

    def record(self, session_id: str, question: str, answer: str, route: str) -> None:
        turns = self._sessions.get(session_id)
        if turns is None:
            turns = deque(maxlen=self._max_turns)
            self._sessions[session_id] = turns
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(session_id)
        turns.append(Turn(question=question, answer=answer, route=route, at=time.time()))

    def forget(self, session_id: str) -> bool:
        return self._sessions.pop(session_id, None) is not None
