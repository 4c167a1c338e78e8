"""The hot-path view of virtual keys: authentication, model access, budget and RPM/TPM, all from memory.

The store is consulted only for keys this process has not seen (negative results are cached briefly) and
by a periodic sync that applies changes made elsewhere (CLI, other workers) and refreshes spend. At most
`max_keys` keys are held; idle ones (no unwritten spend, empty rate windows) make room and are read again on use.

While the database is away (its `health` is down) the keys held keep working from memory; a key not held cannot
be checked, so it is refused with a 503 `key_database_unavailable` (Retry-After) rather than a misleading 401.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

from inferstack.core.errors import (
    AuthenticationError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
)
from inferstack.gateway.keys.database import DatabaseError
from inferstack.gateway.keys.key_state import ANONYMOUS_TOKEN, MASTER_TOKEN, BudgetExceededError, KeyState
from inferstack.gateway.keys.records import VirtualKey, key_token
from inferstack.gateway.keys.store import KeyStore
from inferstack.gateway.limits.base import KeyLimiter
from inferstack.gateway.limits.memory import MemoryLimiter

log = logging.getLogger(__name__)

__all__ = ["ANONYMOUS_TOKEN", "MASTER_TOKEN", "BudgetExceededError", "KeyRegistry", "KeyState", "run_periodic_sync"]

_NEGATIVE_TTL_S = 5.0
NEGATIVE_MAX = 10_000
_EVICTION_PROBES = 64
_SPEND_EPSILON = 1e-12


class KeyDatabaseUnavailableError(OverloadedError):
    """A key this process does not hold, while the database that would say whether it exists is away."""

    default_code = "key_database_unavailable"


def _unlimited(token: str) -> KeyState:
    return KeyState(VirtualKey(token=token, key_name=token))


class KeyRegistry:
    def __init__(
        self,
        store: KeyStore,
        *,
        master_key: str | None,
        require_keys: bool,
        max_keys: int = 10_000,
        limiter: KeyLimiter | None = None,
    ) -> None:
        self._store = store
        self.limiter = limiter or MemoryLimiter()
        self._master_digest = bytes.fromhex(key_token(master_key)) if master_key else None
        self._require_keys = require_keys
        self.max_keys = max_keys
        self._keys: dict[str, KeyState] = {}
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._master = _unlimited(MASTER_TOKEN)
        self._anonymous = _unlimited(ANONYMOUS_TOKEN)
        self._synced_at = 0.0

    @property
    def has_master_key(self) -> bool:
        return self._master_digest is not None

    @property
    def open_proxy(self) -> bool:
        """No master key and keys not required: every request is served, as LiteLLM's proxy without a master key
        serves it; a key the store knows still gets its own limits and spend."""
        return not self._require_keys and self._master_digest is None

    @property
    def size(self) -> int:
        return len(self._keys)

    @property
    def unknown_size(self) -> int:
        """Entries in the negative cache of keys the store does not know (bounded by NEGATIVE_MAX)."""
        return len(self._unknown)

    async def load(self) -> None:
        started = await self._store.clock()
        for record in await self._store.list_keys(include_revoked=False):
            if len(self._keys) >= self.max_keys:
                break  # the rest are looked up on first use
            self._keys[record.token] = KeyState(record)
        self._synced_at = started

    async def sync(self, *, take_spend: bool = True) -> None:
        """Apply key changes made elsewhere (CLI, admin API of another worker).

        With `take_spend` the stored spend replaces ours: the caller guarantees (see `UsageWriter.settled`)
        that no write of this process is in an unknown state, so the store holds exactly our flushed spend
        plus other processes' — our unflushed spend stays on top. Otherwise only the other fields apply."""
        started = await self._store.clock()  # the clock `updated_at` is written by, not this host's
        for record in await self._store.changed_since(self._synced_at - 1.0):
            self._merge(record, take_spend=take_spend)
        for record in await self._store.reset_due_budgets(time.time()):
            state = self._keys.get(record.token)
            if state is not None:
                state.record = record  # a new budget period: stored spend 0, the next reset time
        self._synced_at = started

    def apply(self, record: VirtualKey) -> None:
        """A key created or updated through this process's admin API; its spend here stays as counted."""
        self._merge(record, take_spend=False)

    def _merge(self, record: VirtualKey, *, take_spend: bool) -> None:
        """Take a stored record in: revoked keys leave, new ones are remembered, known ones keep their counted
        spend unless `take_spend` (the store's figure is known to include everything this process flushed)."""
        state = self._keys.get(record.token)
        if record.revoked:
            self._keys.pop(record.token, None)
        elif state is None:
            self._remember(record)
        else:
            state.record = record if take_spend else replace(record, spend=state.record.spend)

    def _remember(self, record: VirtualKey) -> KeyState | None:
        """Hold a key, making room by evicting idle keys; None when it is full of busy ones (the key is then
        read from the store again on its next use)."""
        self._unknown.pop(record.token, None)
        if len(self._keys) >= self.max_keys and not self._evict_idle():
            return None
        state = self._keys[record.token] = KeyState(record)
        return state

    def _evict_idle(self) -> bool:
        """Drop the oldest-held key with nothing to lose: no unwritten spend and empty rate windows."""
        now = time.time()
        for token in itertools.islice(self._keys, _EVICTION_PROBES):
            state = self._keys[token]
            idle = state.unflushed_spend == 0 and state.in_flight == 0
            if idle and state.requests.total(now) == 0 and state.tokens.total(now) == 0:
                del self._keys[token]
                return True
        return False

    def live_spend(self, token: str) -> float | None:
        """Spend as enforced right now (stored + not yet written), for keys this process holds."""
        state = self._keys.get(token)
        return None if state is None else state.spend

    def held(self) -> list[KeyState]:
        """The keys this process holds now (at most `max_keys`), for the budget gauges in /metrics."""
        return list(self._keys.values())

    def forget(self, token: str) -> None:
        self._keys.pop(token, None)

    def _is_master_token(self, token: str) -> bool:
        return self._master_digest is not None and secrets.compare_digest(bytes.fromhex(token), self._master_digest)

    async def authenticate(self, authorization: str | None) -> KeyState:
        """The caller's key state from an `Authorization` header value; raises 401 on anything wrong."""
        presented = _bearer(authorization)
        if presented is None:
            if self.open_proxy:
                return self._anonymous
            raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
        token = key_token(presented)  # hashed once: compared with the master key, then looked up
        if self._is_master_token(token):
            return self._master
        state = self._keys.get(token) or await self._lookup(token)
        if state is None:
            if self.open_proxy:
                return self._anonymous
            raise AuthenticationError("invalid API key")
        if state.record.expired(time.time()):
            raise AuthenticationError("API key expired", code="key_expired")
        return state

    async def _lookup(self, token: str) -> KeyState | None:
        now = time.monotonic()
        seen = self._unknown.get(token)
        if seen is not None and now - seen < _NEGATIVE_TTL_S:
            return None
        if not self._store.db.health.up:
            # Probing the database per request would queue every such request behind a dead connection; the
            # key sync and usage writer probe it in the background and mark it up again.
            raise KeyDatabaseUnavailableError(
                "the key database is unavailable, so this key cannot be checked (keys already in use keep "
                "working); retry shortly",
                retry_after=1.0,
            )
        try:
            record = await self._store.get(token)
        except DatabaseError as exc:
            raise KeyDatabaseUnavailableError(
                "the key database is unavailable, so this key cannot be checked; retry shortly", retry_after=1.0
            ) from exc
        if record is None or record.revoked:
            self._unknown[token] = now
            self._unknown.move_to_end(token)
            while len(self._unknown) > NEGATIVE_MAX:
                self._unknown.popitem(last=False)
            return None
        state = self._keys.get(token)
        if state is None:
            state = self._remember(record) or KeyState(record)
        return state

    async def admit(self, state: KeyState, model: str, served_as: str | None = None) -> None:
        """Model access, parallel requests, then budget, RPM and TPM (the limiter's); counts the request when
        admitted. `served_as` is the wildcard model_name serving `model`, when one does: a key allowed that pattern
        may use `model`."""
        if state.is_master:
            return
        record = state.record
        if not record.allows_model(model) and (served_as is None or not record.allows_model(served_as)):
            raise PermissionDeniedError(f"this key may not use model '{model}'", code="model_not_allowed")
        if record.max_parallel_requests is not None and state.in_flight >= record.max_parallel_requests:
            raise RateLimitError(
                f"parallel request limit: {record.max_parallel_requests} requests at a time for this key",
                retry_after=1.0,
                code="max_parallel_requests_exceeded",
            )
        state.in_flight += 1  # taken before the limiter is awaited, so concurrent requests see it
        try:
            await self.limiter.admit(state, time.time())
        except BaseException:
            state.in_flight -= 1
            raise

    def finished(self, state: KeyState) -> None:
        """An admitted request ended (answered, failed or abandoned): its parallel slot is free."""
        if not state.is_master:
            state.in_flight = max(0, state.in_flight - 1)

    def charge(self, state: KeyState, tokens: int, spend: float) -> None:
        """Count a finished request's tokens and cost (persisted by the usage writer)."""
        state.unflushed_spend += spend
        if not state.is_master:
            self.limiter.charge(state, tokens, spend)

    def flushed(self, token: str, spend: float, stored_spend: float | None = None) -> None:
        """The usage writer persisted `spend` for `token`: it leaves the unflushed amount, and the key takes the
        stored spend read back in that same transaction (ours and every other process's, counted once)."""
        state = self._keys.get(token)
        if state is None:
            return
        state.unflushed_spend -= spend
        if abs(state.unflushed_spend) < _SPEND_EPSILON:
            state.unflushed_spend = 0.0  # float sums in another order leave dust, not spend
        stored = state.record.spend + spend if stored_spend is None else stored_spend
        state.record = replace(state.record, spend=stored)


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


async def run_periodic_sync(
    registry: KeyRegistry, interval_s: float, settled: Callable[[], AbstractAsyncContextManager[bool]] | None = None
) -> None:
    """Sync every `interval_s`; with `settled` (the usage writer's), spend is read only between its writes.
    A failure is logged when syncs start failing and when they resume, not on every tick."""
    failing = False
    while True:
        await asyncio.sleep(interval_s)
        try:
            if settled is None:
                await registry.sync()
            else:
                async with settled() as take_spend:
                    await registry.sync(take_spend=take_spend)
        except Exception as exc:  # noqa: BLE001 - a DB outage must not stop the gateway; retried next tick
            if not failing:
                log.warning("key sync failed (retrying every %.1f s; keys held keep working): %s", interval_s, exc)
            failing = True
        else:
            if failing:
                log.warning("key sync resumed")
            failing = False
