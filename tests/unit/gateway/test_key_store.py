"""Key store on SQLite: migrations, key records, usage batches, and the in-memory registry's admission."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from inferstack.core.errors import AuthenticationError, PermissionDeniedError, RateLimitError
from inferstack.gateway.keys.database import Database
from inferstack.gateway.keys.migrations import MIGRATIONS
from inferstack.gateway.keys.records import UsageRecord, key_token, parse_duration
from inferstack.gateway.keys.registry import BudgetExceededError, KeyRegistry
from inferstack.gateway.keys.store import KeyStore
from inferstack.gateway.usage_writer import UsageWriter


async def _store(tmp_path: Path) -> KeyStore:
    store = KeyStore(Database.open(None, tmp_path))
    await store.open()
    return store


async def test_migrations_apply_once_in_order(tmp_path: Path) -> None:
    store = KeyStore(Database.open(None, tmp_path))
    assert await store.open() == [m.name for m in MIGRATIONS]
    assert await store.open() == []
    names = [m.name for m in MIGRATIONS]
    assert names == sorted(names) and len(set(names)) == len(names)
    await store.close()


async def test_only_digests_are_stored(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    plaintext, record = await store.create(key_alias="a", models=["m"], max_budget=1.5)
    assert record.token == key_token(plaintext) and record.key_name.endswith(plaintext[-4:])
    assert plaintext.encode() not in (tmp_path / "gateway.db").read_bytes()
    assert (await store.find(plaintext)) == (await store.find("a")) == (await store.find(record.token))
    updated = await store.update(record.token, {"rpm_limit": 5, "models": ["m", "n"]})
    assert updated is not None and updated.rpm_limit == 5 and updated.models == ("m", "n")
    with pytest.raises(ValueError, match="cannot update"):
        await store.update(record.token, {"spend": 0})
    assert await store.revoke([record.token]) == 1
    assert await store.list_keys() == [] and len(await store.list_keys(include_revoked=True)) == 1
    await store.close()


async def test_usage_batches_update_spend_and_filter(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    _, record = await store.create()
    registry = KeyRegistry(store, master_key=None, require_keys=True)
    writer = UsageWriter(store, interval_s=60, on_flushed=registry.flushed)
    now = time.time()
    for i in range(3):
        writer.add(UsageRecord(f"r{i}", record.token, "m" if i else "n", "d", 10, 5, 0.5, False, 200, now + i, 1.0))
    assert await writer.flush() == 3
    assert (await store.get(record.token)).spend == pytest.approx(1.5)  # type: ignore[union-attr]
    assert len(await store.spend_logs(token=record.token, model="m")) == 2
    assert len(await store.spend_logs(start=now + 1)) == 2
    assert len(await store.spend_logs(end=now + 1)) == 1
    await store.close()


async def test_registry_admission(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    registry = KeyRegistry(store, master_key="sk-master", require_keys=True)
    plaintext, _ = await store.create(models=["m"], max_budget=1.0, rpm_limit=2)
    await registry.load()
    state = await registry.authenticate(f"Bearer {plaintext}")
    assert (await registry.authenticate("Bearer sk-master")).is_master
    with pytest.raises(AuthenticationError):
        await registry.authenticate(None)
    with pytest.raises(AuthenticationError):
        await registry.authenticate("Bearer sk-unknown")
    with pytest.raises(PermissionDeniedError):
        await registry.admit(state, "other")
    await registry.admit(state, "m")
    await registry.admit(state, "m")
    with pytest.raises(RateLimitError) as limited:
        await registry.admit(state, "m")
    assert limited.value.retry_after is not None and limited.value.retry_after >= 1
    registry.charge(state, 10, 1.0)
    with pytest.raises(BudgetExceededError):
        await registry.admit(state, "m")
    # A key created by another process is found on first use; a revoked one disappears on sync.
    other, other_record = await store.create()
    assert (await registry.authenticate(f"Bearer {other}")).token == other_record.token
    await store.revoke([other_record.token])
    await registry.sync()
    with pytest.raises(AuthenticationError):
        await registry.authenticate(f"Bearer {other}")
    await store.close()


def test_parse_duration() -> None:
    assert parse_duration("30d") == 30 * 86400 and parse_duration("15m") == 900
    with pytest.raises(ValueError):
        parse_duration("soon")
