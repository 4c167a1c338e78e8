"""Records usage off the request path in bounded memory: exact totals per (key, model, time bucket), a capped
sample of per-request rows, and idempotent batch writes so spend reaches the store exactly once.

Memory is bounded by the number of distinct keys × models × buckets, never by the request rate: every request
adds to its totals (spend and tokens are never dropped), while its `spend_logs` detail row is kept only while
fewer than `max_pending_rows` rows wait; past that the row is counted in `rows_dropped` instead. A batch that
fails keeps its id and is retried as it is, so a write whose commit succeeded but whose acknowledgement was
lost is recognised by the store and not applied twice. `close()` stops the periodic task before the last flush,
so no two flushes ever overlap.

While the store is away (a database outage) nothing is dropped: totals keep aggregating in memory and are
written once when it returns. Their number stays bounded over a long outage: past `max_pending_totals`, a request
in a new time bucket is added to the newest bucket already pending for its key and model (counted in
`totals_merged`), so totals stay exact and only their time attribution coarsens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from inferstack.gateway.keys.records import UsageRecord
from inferstack.gateway.keys.store import KeyStore
from inferstack.gateway.keys.usage_batch import TotalsKey, UsageBatch, UsageTotals, bucket_start

log = logging.getLogger(__name__)

# on_flushed(token, spend written now, the key's stored spend read back in the same transaction or None)
FlushedCallback = Callable[[str, float, float | None], None]

_STOP_WAIT_S = 30.0


class UsageWriter:
    def __init__(
        self,
        store: KeyStore,
        *,
        interval_s: float,
        max_pending_rows: int = 10_000,
        max_pending_totals: int = 10_000,
        bucket_s: float = 60.0,
        on_flushed: FlushedCallback | None = None,
    ) -> None:
        self._store = store
        self._interval = interval_s
        self.max_pending_rows = max_pending_rows
        self.max_pending_totals = max_pending_totals
        self._bucket_s = bucket_s
        self._on_flushed = on_flushed
        self._totals: dict[TotalsKey, UsageTotals] = {}
        self._newest_bucket: dict[tuple[str, str], float] = {}  # per (key, model), among self._totals
        self.totals_merged = 0
        self._rows: list[UsageRecord] = []
        self._unacknowledged: UsageBatch | None = None  # a batch whose write failed; retried with the same id
        self.rows_dropped = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        """Per-request rows waiting to be written (bounded by `max_pending_rows`)."""
        waiting = len(self._unacknowledged.rows) if self._unacknowledged is not None else 0
        return len(self._rows) + waiting

    @property
    def pending_totals(self) -> int:
        """(key, model, bucket) totals waiting to be written."""
        waiting = len(self._unacknowledged.totals) if self._unacknowledged is not None else 0
        return len(self._totals) + waiting

    def add(self, record: UsageRecord) -> None:
        key = (record.token, record.model, bucket_start(record.started_at, self._bucket_s))
        totals = self._totals.get(key)
        if totals is None:
            totals = self._new_totals(key)
        totals.add(record)
        if self.pending < self.max_pending_rows:
            self._rows.append(record)
            if len(self._rows) == self.max_pending_rows // 2:
                self._wake.set()  # write early rather than start dropping detail rows
        else:
            self.rows_dropped += 1  # its spend and tokens are in the totals above; only the detail row goes

    def _new_totals(self, key: TotalsKey) -> UsageTotals:
        token, model, bucket = key
        newest = self._newest_bucket.get((token, model))
        if newest is not None and len(self._totals) >= self.max_pending_totals:
            self.totals_merged += 1
            return self._totals[(token, model, newest)]
        self._newest_bucket[(token, model)] = bucket if newest is None else max(bucket, newest)
        totals = self._totals[key] = UsageTotals()
        return totals

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-writer")

    async def _run(self) -> None:
        failing = False
        while not self._stopping:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 - retried on the next tick; nothing pending is dropped
                if not failing:
                    log.warning(
                        "usage write failed; kept in memory (%d totals, %d rows pending; retrying every %.1fs): %s",
                        self.pending_totals,
                        self.pending,
                        self._interval,
                        exc,
                    )
                failing = True
            else:
                if failing:
                    log.warning("usage writes resumed: what was kept in memory is written")
                failing = False

    def _cut(self) -> UsageBatch | None:
        if not self._totals:
            return None
        batch = UsageBatch(totals=self._totals, rows=self._rows)
        self._totals, self._rows, self._newest_bucket = {}, [], {}
        return batch

    async def flush(self) -> int:
        """Write the failed batch (if any), then everything added so far; returns the requests written."""
        async with self._flush_lock:
            written = 0
            for _ in range(2):
                batch = self._unacknowledged or self._cut()
                if batch is None:
                    break
                self._unacknowledged = batch
                stored = await self._store.record_batch(batch)
                self._unacknowledged = None
                written += batch.requests
                if self._on_flushed is not None:
                    for token, spend in batch.spend_by_key().items():
                        self._on_flushed(token, spend, stored.get(token))
            return written

    @asynccontextmanager
    async def settled(self) -> AsyncIterator[bool]:
        """Hold off flushes; yields whether every write so far has an outcome, i.e. the store's spend then
        includes exactly the batches this writer reported as flushed (the key sync reads spend only then)."""
        async with self._flush_lock:
            yield self._unacknowledged is None

    async def close(self) -> None:
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=_STOP_WAIT_S)
            except TimeoutError:
                self._task.cancel()
                with suppress(asyncio.CancelledError):
                    await self._task
        try:
            await self.flush()
        except Exception as exc:  # noqa: BLE001 - reported; there is nowhere left to keep them
            log.error("usage lost at shutdown (%d totals, %d rows): %s", self.pending_totals, self.pending, exc)
