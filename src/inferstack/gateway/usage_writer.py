"""Writes usage rows and key spend to the store in batches, off the request path; nothing is dropped.

Rows wait in memory until a flush succeeds; a database outage delays writes (and is logged) but loses
nothing while the process lives. `close()` flushes what is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

from inferstack.gateway.keys.records import UsageRecord
from inferstack.gateway.keys.store import KeyStore

log = logging.getLogger(__name__)


class UsageWriter:
    def __init__(
        self,
        store: KeyStore,
        *,
        interval_s: float,
        batch_size: int = 1000,
        on_flushed: Callable[[str, float], None] | None = None,
    ) -> None:
        self._store = store
        self._interval = interval_s
        self._batch_size = batch_size
        self._on_flushed = on_flushed
        self._pending: list[UsageRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, record: UsageRecord) -> None:
        self._pending.append(record)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-writer")

    async def _run(self) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 - retried on the next tick; rows stay pending
                log.error("usage write failed (%d rows pending, will retry): %s", len(self._pending), exc)

    async def flush(self) -> int:
        async with self._flush_lock:
            written = 0
            while self._pending:
                batch = self._pending[: self._batch_size]
                await self._store.record_usage(batch)
                del self._pending[: len(batch)]
                written += len(batch)
                if self._on_flushed is not None:
                    per_key: dict[str, float] = {}
                    for record in batch:
                        per_key[record.token] = per_key.get(record.token, 0.0) + record.spend
                    for token, spend in per_key.items():
                        self._on_flushed(token, spend)
            return written

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.flush()
        except Exception as exc:  # noqa: BLE001 - reported; there is nowhere left to keep the rows
            log.error("usage rows lost at shutdown (%d): %s", len(self._pending), exc)
