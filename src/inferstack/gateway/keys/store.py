"""`KeyStore`: virtual keys and spend logs in SQL (see `database.py`); only SHA-256 digests are stored.

Queries are assembled from constant column lists and placeholders only; every value is a bound parameter.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from inferstack.gateway.keys.database import Database
from inferstack.gateway.keys.migrations import migrate
from inferstack.gateway.keys.records import UsageRecord, VirtualKey, display_name, key_token, new_key

_KEY_COLUMNS = (
    "token, key_name, key_alias, models, max_budget, spend, rpm_limit, tpm_limit, expires_at, metadata, "
    "guardrails, revoked, created_at, updated_at"
)
_USAGE_COLUMNS = (
    "request_id, token, model, deployment, prompt_tokens, completion_tokens, spend, cache_hit, status, "
    "started_at, duration_ms"
)
_UPDATABLE = {"key_alias", "models", "max_budget", "rpm_limit", "tpm_limit", "expires_at", "metadata", "guardrails"}


def _row_to_key(row: tuple[Any, ...]) -> VirtualKey:
    return VirtualKey(
        token=row[0],
        key_name=row[1],
        key_alias=row[2],
        models=tuple(orjson.loads(row[3])),
        max_budget=row[4],
        spend=float(row[5]),
        rpm_limit=row[6],
        tpm_limit=row[7],
        expires_at=row[8],
        metadata=orjson.loads(row[9]),
        guardrails=tuple(orjson.loads(row[10])),
        revoked=bool(row[11]),
        created_at=float(row[12]),
        updated_at=float(row[13]),
    )


def _encode(field: str, value: Any) -> Any:
    if field in {"models", "guardrails"}:
        return orjson.dumps(list(value or ())).decode()
    if field == "metadata":
        return orjson.dumps(value or {}).decode()
    return value


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self) -> list[str]:
        """Apply pending migrations; returns their names."""
        return await migrate(self.db)

    async def create(
        self,
        *,
        key_alias: str | None = None,
        models: Sequence[str] = (),
        max_budget: float | None = None,
        rpm_limit: int | None = None,
        tpm_limit: int | None = None,
        expires_at: float | None = None,
        metadata: dict[str, Any] | None = None,
        guardrails: Sequence[str] = (),
    ) -> tuple[str, VirtualKey]:
        """Create a key; returns the plaintext (shown once, never stored) and its record."""
        plaintext = new_key()
        now = time.time()
        record = VirtualKey(
            token=key_token(plaintext),
            key_name=display_name(plaintext),
            key_alias=key_alias,
            models=tuple(models),
            max_budget=max_budget,
            rpm_limit=rpm_limit,
            tpm_limit=tpm_limit,
            expires_at=expires_at,
            metadata=dict(metadata or {}),
            guardrails=tuple(guardrails),
            created_at=now,
            updated_at=now,
        )
        await self.db.execute(
            f"INSERT INTO virtual_keys ({_KEY_COLUMNS}) VALUES ({', '.join('?' * 14)})",
            (
                record.token,
                record.key_name,
                record.key_alias,
                _encode("models", record.models),
                record.max_budget,
                0.0,
                record.rpm_limit,
                record.tpm_limit,
                record.expires_at,
                _encode("metadata", record.metadata),
                _encode("guardrails", record.guardrails),
                0,
                now,
                now,
            ),
        )
        return plaintext, record

    async def get(self, token: str) -> VirtualKey | None:
        rows = await self.db.fetchall(f"SELECT {_KEY_COLUMNS} FROM virtual_keys WHERE token = ?", (token,))
        return _row_to_key(rows[0]) if rows else None

    async def find(self, token_or_alias: str) -> VirtualKey | None:
        """By digest, by alias, or by the plaintext key itself (hashed first)."""
        for token in (token_or_alias, key_token(token_or_alias)):
            found = await self.get(token)
            if found is not None:
                return found
        rows = await self.db.fetchall(
            f"SELECT {_KEY_COLUMNS} FROM virtual_keys WHERE key_alias = ? AND revoked = 0", (token_or_alias,)
        )
        return _row_to_key(rows[0]) if rows else None

    async def list_keys(self, *, include_revoked: bool = False) -> list[VirtualKey]:
        where = "" if include_revoked else " WHERE revoked = 0"
        rows = await self.db.fetchall(f"SELECT {_KEY_COLUMNS} FROM virtual_keys{where} ORDER BY created_at")
        return [_row_to_key(row) for row in rows]

    async def changed_since(self, since: float) -> list[VirtualKey]:
        rows = await self.db.fetchall(f"SELECT {_KEY_COLUMNS} FROM virtual_keys WHERE updated_at >= ?", (since,))
        return [_row_to_key(row) for row in rows]

    async def update(self, token: str, changes: dict[str, Any]) -> VirtualKey | None:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        if changes:
            assignments = ", ".join(f"{field} = ?" for field in changes)
            values = [_encode(field, value) for field, value in changes.items()]
            await self.db.execute(
                f"UPDATE virtual_keys SET {assignments}, updated_at = ? WHERE token = ? AND revoked = 0",
                (*values, time.time(), token),
            )
        return await self.get(token)

    async def revoke(self, tokens: Sequence[str]) -> int:
        """Mark keys revoked (kept so every process sees the change on its next sync)."""
        revoked = 0
        for token in tokens:
            revoked += await self.db.execute(
                "UPDATE virtual_keys SET revoked = 1, updated_at = ? WHERE token = ? AND revoked = 0",
                (time.time(), token),
            )
        return revoked

    async def record_usage(self, records: Sequence[UsageRecord]) -> None:
        """Insert spend rows and add their spend to each key, atomically."""
        if not records:
            return
        per_key: dict[str, float] = {}
        insert = (
            f"INSERT INTO spend_logs ({_USAGE_COLUMNS}) VALUES ({', '.join('?' * 11)}) "
            "ON CONFLICT (request_id) DO NOTHING"
        )
        rows = [
            (
                r.request_id,
                r.token,
                r.model,
                r.deployment,
                r.prompt_tokens,
                r.completion_tokens,
                r.spend,
                int(r.cache_hit),
                r.status,
                r.started_at,
                r.duration_ms,
            )
            for r in records
        ]
        for r in records:
            if r.spend:
                per_key[r.token] = per_key.get(r.token, 0.0) + r.spend
        now = time.time()
        updates: list[tuple[str, Sequence[Any]]] = [
            ("UPDATE virtual_keys SET spend = spend + ?, updated_at = ? WHERE token = ?", (spend, now, token))
            for token, spend in per_key.items()
        ]
        await self.db.transaction(updates, batches=[(insert, rows)])

    async def spend_logs(
        self,
        *,
        token: str | None = None,
        model: str | None = None,
        start: float | None = None,
        end: float | None = None,
        limit: int = 1000,
    ) -> list[UsageRecord]:
        clauses, params = [], []
        for column, op, value in (("token", "=", token), ("model", "=", model), ("started_at", ">=", start)):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        if end is not None:
            clauses.append("started_at < ?")
            params.append(end)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self.db.fetchall(
            f"SELECT {_USAGE_COLUMNS} FROM spend_logs{where} ORDER BY started_at DESC LIMIT ?", (*params, limit)
        )
        return [
            UsageRecord(
                request_id=r[0],
                token=r[1],
                model=r[2],
                deployment=r[3],
                prompt_tokens=int(r[4]),
                completion_tokens=int(r[5]),
                spend=float(r[6]),
                cache_hit=bool(r[7]),
                status=int(r[8]),
                started_at=float(r[9]),
                duration_ms=float(r[10]),
            )
            for r in rows
        ]

    async def close(self) -> None:
        await self.db.close()
