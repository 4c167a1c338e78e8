"""Key sync across replicas whose clocks differ: change times are written and read on the database's clock, so a
revocation or update made by a replica whose clock is behind is still seen by one whose clock is ahead."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from inferstack.core.errors import AuthenticationError, PermissionDeniedError
from inferstack.gateway.keys.database import Database
from inferstack.gateway.keys.registry import KeyRegistry
from inferstack.gateway.keys.store import KeyStore

AHEAD_S = 30.0


async def test_a_replica_whose_clock_is_ahead_sees_changes_made_by_one_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = KeyStore(Database.open(None, tmp_path))  # replica A's connection to the shared key store
    await writer.open()
    reader = KeyStore(Database.open(None, tmp_path))  # replica B's
    real: Callable[[], float] = time.time
    try:
        plaintext, record = await writer.create(models=["m"])
        monkeypatch.setattr(time, "time", lambda: real() + AHEAD_S)  # B runs with its host clock ahead
        registry = KeyRegistry(reader, master_key=None, require_keys=True)
        await registry.load()
        state = await registry.authenticate(f"Bearer {plaintext}")
        await registry.admit(state, "m")
        monkeypatch.setattr(time, "time", real)  # A writes with its own (behind) clock

        await writer.update(record.token, {"models": ["other"]})
        monkeypatch.setattr(time, "time", lambda: real() + AHEAD_S)
        await registry.sync()
        with pytest.raises(PermissionDeniedError):
            await registry.admit(await registry.authenticate(f"Bearer {plaintext}"), "m")

        monkeypatch.setattr(time, "time", real)
        await writer.revoke([record.token])
        monkeypatch.setattr(time, "time", lambda: real() + AHEAD_S)
        await registry.sync()
        with pytest.raises(AuthenticationError):
            await registry.authenticate(f"Bearer {plaintext}")
    finally:
        monkeypatch.setattr(time, "time", real)
        await writer.close()
        await reader.close()


async def test_the_database_clock_is_epoch_seconds(tmp_path: Path) -> None:
    store = KeyStore(Database.open(None, tmp_path))
    await store.open()
    try:
        before = time.time()
        clock = await store.clock()
        assert before - 1 <= clock <= time.time() + 1
    finally:
        await store.close()
