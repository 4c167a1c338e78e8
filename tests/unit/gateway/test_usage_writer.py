"""The usage writer's memory bound: detail rows stop at the cap (counted), totals stay exact, batches are idempotent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from inferstack.gateway.keys.database import Database
from inferstack.gateway.keys.records import UsageRecord
from inferstack.gateway.keys.store import KeyStore
from inferstack.gateway.keys.usage_batch import UsageBatch, UsageTotals
from inferstack.gateway.usage_writer import UsageWriter


async def test_rows_are_capped_and_totals_stay_exact(tmp_path: Path) -> None:
    store = KeyStore(Database.open(None, tmp_path))
    await store.open()
    _, key = await store.create()
    writer = UsageWriter(store, interval_s=60, max_pending_rows=10, bucket_s=60)
    now = time.time()
    for i in range(1000):
        writer.add(UsageRecord(f"r{i}", key.token, "m" if i % 2 else "n", "d", 3, 2, 0.25, i % 10 == 0, 200, now, 1))
    assert writer.pending == 10 and writer.rows_dropped == 990
    assert writer.pending_totals <= 4, "two models, at most two minute buckets each"
    assert await writer.flush() == 1000
    assert writer.pending == writer.pending_totals == 0
    totals = await store.usage_totals(token=key.token)
    assert (totals.requests, totals.prompt_tokens, totals.completion_tokens) == (1000, 3000, 2000)
    assert totals.spend == pytest.approx(250.0) and totals.cache_hits == 100
    assert (await store.get(key.token)).spend == pytest.approx(250.0)  # type: ignore[union-attr]
    assert len(await store.spend_logs(limit=10_000)) == 10
    await store.close()


async def test_a_batch_written_twice_is_applied_once(tmp_path: Path) -> None:
    store = KeyStore(Database.open(None, tmp_path))
    await store.open()
    _, key = await store.create()
    totals = UsageTotals()
    totals.add(UsageRecord("r", key.token, "m", None, 1, 1, 0.5, False, 200, 0.0, 1.0))
    batch = UsageBatch(totals={(key.token, "m", 0.0): totals}, rows=[])
    assert await store.record_batch(batch) == {key.token: pytest.approx(0.5)}
    assert await store.record_batch(batch) == {key.token: pytest.approx(0.5)}, "a retry reads, never adds"
    assert (await store.usage_totals()).requests == 1
    await store.close()
