"""Bring the key store's schema up to date outside the gateway: what `inferstack gateway migrate` runs.

The same append-only migrations the gateway applies at start (keys/migrations.py); a store already current is
left as it is, so running it again, or starting gateways afterwards, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inferstack.gateway.keys.database import Database
from inferstack.gateway.keys.migrations import MIGRATIONS, migrate


@dataclass(frozen=True)
class SchemaUpgrade:
    database: str  # where, without credentials
    applied: tuple[str, ...]
    total: int


async def upgrade_schema(database_url: str | None, data_dir: Path) -> SchemaUpgrade:
    """Apply every pending migration to the store at `database_url` (default SQLite under `data_dir`)."""
    db = Database.open(database_url, data_dir)
    try:
        applied = await migrate(db)
    finally:
        await db.close()
    return SchemaUpgrade(database=db.health.description, applied=tuple(applied), total=len(MIGRATIONS))
