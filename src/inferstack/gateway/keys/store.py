"""`KeyStore`: virtual keys and spend logs in SQL (see `database.py`); only SHA-256 digests are stored.

Queries are assembled from constant column lists and placeholders only; every value is a bound parameter.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from inferstack.gateway.keys.database import DB_NOW, Database, Transaction
from inferstack.gateway.keys.migrations import migrate
from inferstack.gateway.keys.records import (
    UsageRecord,
    VirtualKey,
    display_name,
    key_token,
    new_key,
    next_budget_reset,
)
from inferstack.gateway.keys.usage_batch import TotalsKey, UsageBatch, UsageTotals, bucket_start

_KEY_COLUMNS = (
    "token, key_name, key_alias, models, max_budget, spend, rpm_limit, tpm_limit, expires_at, metadata, "
    "guardrails, revoked, created_at, updated_at, budget_duration, budget_reset_at, max_parallel_requests, user_id, "
    "team_id, aliases"
)
_KEY_COLUMN_COUNT = 20
_USAGE_COLUMNS = (
    "request_id, token, model, deployment, prompt_tokens, completion_tokens, spend, cache_hit, status, "
    "started_at, duration_ms"
)
_INSERT_ROW = (
    f"INSERT INTO spend_logs ({_USAGE_COLUMNS}) VALUES ({', '.join('?' * 11)}) ON CONFLICT (request_id) DO NOTHING"
)
_UPSERT_TOTALS = (
    "INSERT INTO usage_totals (token, model, bucket_start, requests, prompt_tokens, completion_tokens, spend,"
    " cache_hits, errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token, model, bucket_start) DO UPDATE SET"
    " requests = usage_totals.requests + excluded.requests,"
    " prompt_tokens = usage_totals.prompt_tokens + excluded.prompt_tokens,"
    " completion_tokens = usage_totals.completion_tokens + excluded.completion_tokens,"
    " spend = usage_totals.spend + excluded.spend,"
    " cache_hits = usage_totals.cache_hits + excluded.cache_hits,"
    " errors = usage_totals.errors + excluded.errors"
)
_BATCH_IDS_KEPT_S = 7 * 86400.0  # a batch is retried within minutes; its id is kept far longer than that
_SPEND_READ_CHUNK = 500
_UPDATABLE = {
    "key_alias",
    "models",
    "max_budget",
    "rpm_limit",
    "tpm_limit",
    "expires_at",
    "metadata",
    "guardrails",
    "budget_duration",
    "budget_reset_at",
    "max_parallel_requests",
    "user_id",
    "team_id",
    "aliases",
}


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
        budget_duration=row[14],
        budget_reset_at=row[15],
        max_parallel_requests=row[16],
        user_id=row[17],
        team_id=row[18],
        aliases=orjson.loads(row[19] or "{}"),
    )


def _encode(field: str, value: Any) -> Any:
    if field in {"models", "guardrails"}:
        return orjson.dumps(list(value or ())).decode()
    if field in {"metadata", "aliases"}:
        return orjson.dumps(value or {}).decode()
    return value


def _stored_spend(tx: Transaction, tokens: list[str]) -> dict[str, float]:
    stored: dict[str, float] = {}
    for start in range(0, len(tokens), _SPEND_READ_CHUNK):
        chunk = tokens[start : start + _SPEND_READ_CHUNK]
        marks = ", ".join("?" * len(chunk))
        for token, spend in tx.fetchall(f"SELECT token, spend FROM virtual_keys WHERE token IN ({marks})", chunk):
            stored[token] = float(spend)
    return stored


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
        budget_duration: str | None = None,
        budget_reset_at: float | None = None,
        max_parallel_requests: int | None = None,
        user_id: str | None = None,
        team_id: str | None = None,
        aliases: dict[str, str] | None = None,
    ) -> tuple[str, VirtualKey]:
        """Create a key; returns the plaintext (shown once, never stored) and its record."""
        plaintext = new_key()
        now = time.time()
        record = VirtualKey(
            token=key_token(plaintext),
            key_name=display_name(plaintext),
            key_alias=key_alias,
            models=tuple(models or ()),  # JSON null is "not given", as in update
            max_budget=max_budget,
            rpm_limit=rpm_limit,
            tpm_limit=tpm_limit,
            expires_at=expires_at,
            metadata=dict(metadata or {}),
            guardrails=tuple(guardrails or ()),
            created_at=now,
            updated_at=now,
            budget_duration=budget_duration,
            budget_reset_at=budget_reset_at,
            max_parallel_requests=max_parallel_requests,
            user_id=user_id,
            team_id=team_id,
            aliases=dict(aliases or {}),
        )
        marks = ["?"] * _KEY_COLUMN_COUNT
        marks[13] = DB_NOW  # updated_at: the database's clock, which every replica's key sync reads by
        await self.db.execute(
            f"INSERT INTO virtual_keys ({_KEY_COLUMNS}) VALUES ({', '.join(marks)})",
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
                record.budget_duration,
                record.budget_reset_at,
                record.max_parallel_requests,
                record.user_id,
                record.team_id,
                _encode("aliases", record.aliases),
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

    async def clock(self) -> float:
        """The database's clock: `updated_at` is written by it, so a sync's watermark must be read from it too
        (replicas on hosts whose clocks differ would otherwise miss each other's changes)."""
        return await self.db.now()

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
                f"UPDATE virtual_keys SET {assignments}, updated_at = {DB_NOW} WHERE token = ? AND revoked = 0",
                (*values, token),
            )
        return await self.get(token)

    async def reset_due_budgets(self, now: float) -> list[VirtualKey]:
        """Start a new budget period (spend 0) for every key whose period has ended; returns those keys.

        Each reset is conditional on the reset time read, so of several processes only one resets a key."""
        rows = await self.db.fetchall(
            "SELECT token, budget_duration, budget_reset_at FROM virtual_keys"
            " WHERE budget_reset_at IS NOT NULL AND budget_reset_at <= ? AND revoked = 0",
            (now,),
        )
        reset = []
        for token, duration, reset_at in rows:
            if not duration:
                continue
            following = next_budget_reset(float(reset_at), str(duration), now)
            changed = await self.db.execute(
                f"UPDATE virtual_keys SET spend = 0, budget_reset_at = ?, updated_at = {DB_NOW}"
                " WHERE token = ? AND budget_reset_at = ?",
                (following, token, reset_at),
            )
            record = await self.get(token) if changed else None
            if record is not None:
                reset.append(record)
        return reset

    async def revoke(self, tokens: Sequence[str]) -> int:
        """Mark keys revoked (kept so every process sees the change on its next sync)."""
        revoked = 0
        for token in tokens:
            revoked += await self.db.execute(
                f"UPDATE virtual_keys SET revoked = 1, updated_at = {DB_NOW} WHERE token = ? AND revoked = 0",
                (token,),
            )
        return revoked

    async def record_usage(self, records: Sequence[UsageRecord], bucket_s: float = 60.0) -> dict[str, float]:
        """Write per-request records as one batch (totals and rows); returns each key's stored spend."""
        totals: dict[TotalsKey, UsageTotals] = {}
        for r in records:
            totals.setdefault((r.token, r.model, bucket_start(r.started_at, bucket_s)), UsageTotals()).add(r)
        return await self.record_batch(UsageBatch(totals=totals, rows=list(records)))

    async def record_batch(self, batch: UsageBatch) -> dict[str, float]:
        """Apply a usage batch exactly once: its id is recorded in the same transaction as the spend, so a
        retry after a lost acknowledgement changes nothing. Returns the stored spend of every key it touches
        (read in that transaction, so it includes this batch and whatever other processes wrote before)."""
        spend_by_key = batch.spend_by_key()
        now = time.time()
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
            for r in batch.rows
        ]
        totals = [
            (token, model, bucket, t.requests, t.prompt_tokens, t.completion_tokens, t.spend, t.cache_hits, t.errors)
            for (token, model, bucket), t in batch.totals.items()
        ]

        def work(tx: Transaction) -> dict[str, float]:
            fresh = tx.execute(
                "INSERT INTO usage_batches (batch_id, requests, applied_at) VALUES (?, ?, ?) "
                "ON CONFLICT (batch_id) DO NOTHING",
                (batch.batch_id, batch.requests, now),
            )
            if fresh:
                tx.executemany(_INSERT_ROW, rows)
                tx.executemany(_UPSERT_TOTALS, totals)
                for token, spend in spend_by_key.items():
                    if spend:
                        tx.execute(
                            f"UPDATE virtual_keys SET spend = spend + ?, updated_at = {DB_NOW} WHERE token = ?",
                            (spend, token),
                        )
                tx.execute("DELETE FROM usage_batches WHERE applied_at < ?", (now - _BATCH_IDS_KEPT_S,))
            return _stored_spend(tx, list(spend_by_key))

        return await self.db.atomic(work)

    async def usage_totals(self, *, token: str | None = None) -> UsageTotals:
        """Exact sums over every recorded request (of one key, or all), detail rows kept or not."""
        where, params = (" WHERE token = ?", (token,)) if token is not None else ("", ())
        rows = await self.db.fetchall(
            "SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),"
            " COALESCE(SUM(spend), 0), COALESCE(SUM(cache_hits), 0), COALESCE(SUM(errors), 0)"
            f" FROM usage_totals{where}",
            params,
        )
        r = rows[0]
        return UsageTotals(int(r[0]), int(r[1]), int(r[2]), float(r[3]), int(r[4]), int(r[5]))

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
