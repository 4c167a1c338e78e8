"""Console sessions, kept in the key store's database so every gateway worker and replica that shares it sees them.

The cookie carries only a random session id, which only the browser holds. A row is found by the id's SHA-256 and
holds the role, the key's digest, the display name, the CSRF token's SHA-256 and the expiry (the database's clock);
the API key and the CSRF token are sealed with AES-GCM under a key derived from the session id (HKDF-SHA256), with
the row's other columns as associated data. A database dump therefore reveals no API key and no usable session,
and a row that does not open (tampered, or another id) means "signed out". A session whose key was revoked, by any
path, is signed out too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from inferstack.gateway.keys.database import DB_NOW, Database, Transaction

_INFO = b"inferstack console session"
_NONCE_BYTES = 12
_MAX_ID_CHARS = 256  # ids are 43 characters; anything much longer is not one of ours


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
        """Whether `presented` is this session's CSRF token (digests compared in constant time)."""
        if presented is None:
            return False
        return hmac.compare_digest(_digest(presented).encode(), _digest(self.csrf).encode())


@dataclass(frozen=True)
class SessionRow:
    """A session as the database holds it: digests, the sealed secrets, and nothing that opens them."""

    id_digest: str
    role: str
    token: str
    name: str
    csrf_digest: str
    sealed: str  # base64 of the AES-GCM nonce and ciphertext of {"key", "csrf"}
    expires_at: float


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _cipher(session_id: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return AESGCM(hkdf.derive(session_id.encode()))


def _associated(row: SessionRow) -> bytes:
    """The columns a sealed secret is bound to: changing any of them in the database breaks the seal."""
    fields = (row.id_digest, row.role, row.token, row.name, row.csrf_digest, float(row.expires_at).hex())
    return orjson.dumps(fields)


def seal(session_id: str, session: Session) -> SessionRow:
    """The row for `session`, its secrets sealed under a key only `session_id` gives."""
    row = SessionRow(
        id_digest=_digest(session_id),
        role=session.role,
        token=session.token,
        name=session.name,
        csrf_digest=_digest(session.csrf),
        sealed="",
        expires_at=session.expires_at,
    )
    nonce = secrets.token_bytes(_NONCE_BYTES)
    secret = orjson.dumps({"key": session.key, "csrf": session.csrf})
    ciphertext = _cipher(session_id).encrypt(nonce, secret, _associated(row))
    return replace(row, sealed=base64.b64encode(nonce + ciphertext).decode())


def unseal(session_id: str, row: SessionRow) -> Session | None:
    """The session a row holds, or None when `session_id` does not open it or the row was changed."""
    try:
        blob = base64.b64decode(row.sealed, validate=True)
        secret = orjson.loads(_cipher(session_id).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _associated(row)))
        key, csrf = secret["key"], secret["csrf"]
    except (InvalidTag, ValueError, binascii.Error, KeyError, TypeError):
        return None
    if not isinstance(key, str) or not isinstance(csrf, str) or not hmac.compare_digest(_digest(csrf), row.csrf_digest):
        return None
    return Session(key=key, role=row.role, token=row.token, name=row.name, csrf=csrf, expires_at=row.expires_at)


_INSERT = (
    "INSERT INTO console_sessions (id_digest, role, token, name, csrf_digest, sealed, created_at, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# A session of a revoked key is never returned, whichever replica or command revoked it. (DB_NOW is a constant.)
_SELECT = (
    f"SELECT s.role, s.token, s.name, s.csrf_digest, s.sealed, s.expires_at, {DB_NOW}, k.revoked"  # noqa: S608
    " FROM console_sessions s LEFT JOIN virtual_keys k ON k.token = s.token WHERE s.id_digest = ?"
)


class SessionTable:
    """Sessions by the digest of their id, in the key store's database; expiring by its clock and bounded."""

    def __init__(self, db: Database, *, ttl_s: float = 12 * 3600, max_sessions: int = 1000) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions

    async def count(self) -> int:
        rows = await self.db.fetchall("SELECT COUNT(*) FROM console_sessions")
        return int(rows[0][0])

    async def create(self, *, key: str, role: str, token: str, name: str) -> tuple[str, Session]:
        """A new session and the id the cookie carries. Expired sessions are purged and, past `max_sessions`,
        the oldest are dropped in the same transaction."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)

        def work(tx: Transaction) -> Session:
            now = float(tx.fetchall(f"SELECT {DB_NOW}")[0][0])
            session = Session(key=key, role=role, token=token, name=name, csrf=csrf, expires_at=now + self.ttl_s)
            row = seal(session_id, session)
            tx.execute("DELETE FROM console_sessions WHERE expires_at <= ?", (now,))
            tx.execute(
                _INSERT,
                (row.id_digest, row.role, row.token, row.name, row.csrf_digest, row.sealed, now, row.expires_at),
            )
            excess = int(tx.fetchall("SELECT COUNT(*) FROM console_sessions")[0][0]) - self.max_sessions
            if excess > 0:
                oldest = tx.fetchall(
                    "SELECT id_digest FROM console_sessions ORDER BY expires_at, created_at LIMIT ?", (excess,)
                )
                tx.executemany("DELETE FROM console_sessions WHERE id_digest = ?", oldest)
            return session

        return session_id, await self.db.atomic(work)

    async def get(self, session_id: str | None) -> Session | None:
        """The session `session_id` opens; None when there is none, it expired, its key was revoked, or its row
        does not open. Raises the database's DatabaseError (503) when the store is unreachable."""
        if not session_id or len(session_id) > _MAX_ID_CHARS:
            return None
        id_digest = _digest(session_id)
        rows = await self.db.fetchall(_SELECT, (id_digest,))
        if not rows:
            return None
        role, token, name, csrf_digest, sealed, expires_at, now, revoked = rows[0]
        if float(expires_at) <= float(now) or _truthy(revoked):
            await self.db.execute("DELETE FROM console_sessions WHERE id_digest = ?", (id_digest,))
            return None
        row = SessionRow(id_digest, str(role), str(token), str(name), str(csrf_digest), str(sealed), float(expires_at))
        return unseal(session_id, row)

    async def drop(self, session_id: str | None) -> None:
        """Sign one browser out."""
        if session_id and len(session_id) <= _MAX_ID_CHARS:
            await self.db.execute("DELETE FROM console_sessions WHERE id_digest = ?", (_digest(session_id),))

    async def drop_token(self, token: str) -> None:
        """Sign out every session of a key (it was revoked)."""
        if token:
            await self.db.execute("DELETE FROM console_sessions WHERE token = ?", (token,))


def _truthy(value: Any) -> bool:
    return value is not None and bool(value)
