"""Console sessions: a bounded in-memory table keyed by the SHA-256 of a random cookie value.

The cookie carries only the random session id; the signed-in key stays in this process's memory so the
console can call the gateway on the user's behalf. Sessions expire after `ttl_s`; past `max_sessions` the
oldest is dropped. Sessions live in one process (a gateway with `workers > 1` signs users out at random).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Session:
    """One signed-in browser: its role, the key's digest and display name, and its CSRF token."""

    key: str = field(repr=False)
    role: str  # "admin" (master key) or "key" (a virtual key)
    token: str  # the key's digest as the key store names it ("" for the master key)
    name: str
    csrf: str = field(repr=False)
    expires_at: float

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionTable:
    """Sessions by the digest of their id; bounded and expiring."""

    def __init__(self, *, ttl_s: float = 12 * 3600, max_sessions: int = 1000) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, *, key: str, role: str, token: str, name: str) -> tuple[str, Session]:
        """A new session and the id the cookie carries."""
        session_id = secrets.token_urlsafe(32)
        session = Session(
            key=key,
            role=role,
            token=token,
            name=name,
            csrf=secrets.token_urlsafe(32),
            expires_at=time.time() + self.ttl_s,
        )
        self._sessions[_digest(session_id)] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        digest = _digest(session_id)
        session = self._sessions.get(digest)
        if session is None:
            return None
        if session.expires_at <= time.time():
            del self._sessions[digest]
            return None
        return session

    def drop(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(_digest(session_id), None)

    def drop_token(self, token: str) -> None:
        """Sign out every session of a key (it was revoked)."""
        for digest in [d for d, s in self._sessions.items() if s.token == token]:
            del self._sessions[digest]
