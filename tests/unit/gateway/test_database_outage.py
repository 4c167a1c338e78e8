"""A key database that goes away and comes back, in-process: usage is kept aggregated and bounded and written once
on return, keys held keep authenticating, keys not held get a 503 (not a 401), and health flips once each way."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from inferstack.core.errors import AuthenticationError
from inferstack.gateway.keys.database import Database, DatabaseError
from inferstack.gateway.keys.records import UsageRecord
from inferstack.gateway.keys.registry import KeyDatabaseUnavailableError, KeyRegistry
from inferstack.gateway.keys.store import KeyStore
from inferstack.gateway.usage_writer import UsageWriter

PRICE = 0.0009765625  # 2**-10: sums of it are exact in binary floating point


class FakeOutage:
    """Connections to a real SQLite file that fail while `down` (an existing connection too, as a server's would)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.down = False
        self.connects = 0

    def connect(self) -> Any:
        self.connects += 1
        if self.down:
            raise sqlite3.OperationalError("injected: unable to open database file")
        return FakeDroppingConnection(sqlite3.connect(self.path, check_same_thread=False, timeout=10), self)


class FakeDroppingConnection:
    def __init__(self, conn: sqlite3.Connection, outage: FakeOutage) -> None:
        self._conn = conn
        self._outage = outage

    def cursor(self) -> Any:
        if self._outage.down:
            raise sqlite3.OperationalError("injected: server closed the connection")
        return self._conn.cursor()

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def close(self) -> None:
        self._conn.close()


async def test_usage_waits_bounded_in_memory_and_is_written_once_on_return(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outage = FakeOutage(tmp_path / "gateway.db")
    store = KeyStore(Database(outage.connect, dialect="sqlite", description="sqlite"))
    await store.open()
    plaintext, key = await store.create(max_budget=1.0)
    registry = KeyRegistry(store, master_key=None, require_keys=True)
    await registry.load()
    writer = UsageWriter(store, interval_s=60, max_pending_rows=20, max_pending_totals=5, on_flushed=registry.flushed)
    state = registry._keys[key.token]
    health = store.db.health

    outage.down = True
    start = time.time()
    caplog.set_level(logging.WARNING)
    for i in range(300):  # 300 requests over 100 minute-buckets, two models
        admitted = await registry.authenticate(f"Bearer {plaintext}")
        assert admitted is state
        await registry.admit(state, "m")
        registry.charge(state, 5, PRICE)
        registry.finished(state)
        writer.add(
            UsageRecord(f"r{i}", key.token, "m" if i % 2 else "n", "d", 3, 2, PRICE, False, 200, start + i * 20, 1)
        )
        if i % 50 == 0:
            with pytest.raises(DatabaseError) as failed:
                await writer.flush()
            assert failed.value.status_code == 503 and failed.value.retry_after == 1.0
    assert not health.up and health.outages == 1
    assert writer.pending_totals <= 5 + 2, "new buckets merge into the newest pending one past the bound"
    assert writer.totals_merged > 0 and writer.pending <= 20
    assert registry.live_spend(key.token) == 300 * PRICE, "the budget is enforced from memory meanwhile"
    connects = outage.connects
    with pytest.raises(KeyDatabaseUnavailableError) as refused:
        await registry.authenticate("Bearer sk-not-held-by-this-process")
    assert refused.value.status_code == 503 and refused.value.retry_after == 1.0
    assert outage.connects == connects, "a key not held is refused without queueing on the dead database"

    outage.down = False
    assert await writer.flush() == 300
    assert health.up and health.outages == 1
    totals = await store.usage_totals(token=key.token)
    assert (totals.requests, totals.spend) == (300, 300 * PRICE)
    stored = await store.get(key.token)
    assert stored is not None and stored.spend == 300 * PRICE
    assert registry.live_spend(key.token) == 300 * PRICE and state.unflushed_spend == 0
    down_logs = [r for r in caplog.records if "unavailable" in r.getMessage() and r.levelno == logging.ERROR]
    up_logs = [r for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(down_logs) == 1 and len(up_logs) == 1, "one log per transition, not per failed call"
    with pytest.raises(AuthenticationError, match="invalid API key"):
        await registry.authenticate("Bearer sk-not-held-by-this-process")  # answered by the store again: 401
