"""Append-only, named schema migrations for the key store and usage log. Never edit one; add the next."""

from __future__ import annotations

import time
from dataclasses import dataclass

from inferstack.gateway.keys.database import Database


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


# The same SQL runs on SQLite and PostgreSQL: TEXT for JSON, DOUBLE PRECISION for money and epoch seconds.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_virtual_keys",
        """CREATE TABLE virtual_keys (
            token TEXT PRIMARY KEY,
            key_name TEXT NOT NULL,
            key_alias TEXT,
            models TEXT NOT NULL,
            max_budget DOUBLE PRECISION,
            spend DOUBLE PRECISION NOT NULL DEFAULT 0,
            rpm_limit INTEGER,
            tpm_limit INTEGER,
            expires_at DOUBLE PRECISION,
            metadata TEXT NOT NULL,
            guardrails TEXT NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
    ),
    Migration("0002_virtual_keys_updated_at", "CREATE INDEX virtual_keys_updated_at ON virtual_keys (updated_at)"),
    Migration(
        "0003_spend_logs",
        """CREATE TABLE spend_logs (
            request_id TEXT PRIMARY KEY,
            token TEXT NOT NULL,
            model TEXT NOT NULL,
            deployment TEXT,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            spend DOUBLE PRECISION NOT NULL,
            cache_hit INTEGER NOT NULL,
            status INTEGER NOT NULL,
            started_at DOUBLE PRECISION NOT NULL,
            duration_ms DOUBLE PRECISION NOT NULL
        )""",
    ),
    Migration("0004_spend_logs_token_time", "CREATE INDEX spend_logs_token_time ON spend_logs (token, started_at)"),
    Migration("0005_spend_logs_model_time", "CREATE INDEX spend_logs_model_time ON spend_logs (model, started_at)"),
    # Every usage write carries a batch id, recorded in the same transaction: a batch retried after a commit
    # whose acknowledgement was lost is recognised and skipped, so spend is added exactly once.
    Migration(
        "0006_usage_batches",
        """CREATE TABLE usage_batches (
            batch_id TEXT PRIMARY KEY,
            requests BIGINT NOT NULL,
            applied_at DOUBLE PRECISION NOT NULL
        )""",
    ),
    Migration("0007_usage_batches_applied_at", "CREATE INDEX usage_batches_applied_at ON usage_batches (applied_at)"),
    # Exact totals per key, model and time bucket for every request, whether or not its spend_logs row was kept.
    Migration(
        "0008_usage_totals",
        """CREATE TABLE usage_totals (
            token TEXT NOT NULL,
            model TEXT NOT NULL,
            bucket_start DOUBLE PRECISION NOT NULL,
            requests BIGINT NOT NULL,
            prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL,
            spend DOUBLE PRECISION NOT NULL,
            cache_hits BIGINT NOT NULL,
            errors BIGINT NOT NULL,
            PRIMARY KEY (token, model, bucket_start)
        )""",
    ),
    # LiteLLM's key fields: a budget that resets every budget_duration, parallel requests, owner ids, aliases.
    Migration("0009_virtual_keys_budget_duration", "ALTER TABLE virtual_keys ADD COLUMN budget_duration TEXT"),
    Migration(
        "0010_virtual_keys_budget_reset_at", "ALTER TABLE virtual_keys ADD COLUMN budget_reset_at DOUBLE PRECISION"
    ),
    Migration(
        "0011_virtual_keys_max_parallel_requests",
        "ALTER TABLE virtual_keys ADD COLUMN max_parallel_requests INTEGER",
    ),
    Migration("0012_virtual_keys_user_id", "ALTER TABLE virtual_keys ADD COLUMN user_id TEXT"),
    Migration("0013_virtual_keys_team_id", "ALTER TABLE virtual_keys ADD COLUMN team_id TEXT"),
    Migration("0014_virtual_keys_aliases", "ALTER TABLE virtual_keys ADD COLUMN aliases TEXT NOT NULL DEFAULT '{}'"),
    # Web console sessions, shared by every gateway on this store (console/sessions.py): digests of the session id
    # and CSRF token, and the API key sealed under a key derived from the session id (never the key itself).
    Migration(
        "0015_console_sessions",
        """CREATE TABLE console_sessions (
            id_digest TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            token TEXT NOT NULL,
            name TEXT NOT NULL,
            csrf_digest TEXT NOT NULL,
            sealed TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        )""",
    ),
    Migration("0016_console_sessions_token", "CREATE INDEX console_sessions_token ON console_sessions (token)"),
    Migration(
        "0017_console_sessions_expires_at", "CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at)"
    ),
)


async def migrate(db: Database) -> list[str]:
    """Apply every migration not yet recorded, in order; returns the names applied now."""
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
    )
    done = {row[0] for row in await db.fetchall("SELECT name FROM schema_migrations")}
    applied = []
    for migration in MIGRATIONS:
        if migration.name in done:
            continue
        await db.transaction(
            [
                (migration.sql, ()),
                ("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (migration.name, time.time())),
            ]
        )
        applied.append(migration.name)
    return applied
