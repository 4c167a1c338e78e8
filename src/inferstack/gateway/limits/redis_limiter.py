"""`RedisLimiter` (`limits.backend: redis`): one budget, RPM and TPM per key for every worker and replica sharing
one Redis. The redis package is imported when this limiter is built, never when it is merely registered.

Admission is one Lua script (`lua.ADMIT`): budget, RPM and TPM checked and the request counted in a single atomic
step, so N gateways admit exactly `rpm_limit` requests per 60 s between them. Tokens and spend are counted after a
request ends (`lua.CHARGE`) so a request never waits for them; the guarantee this gives is written out in
docs/gateway.md (Running several replicas). One sender task carries every admission and charge waiting at that
moment to Redis in one pipelined round trip (EVALSHA; the scripts are loaded again if Redis lost them), so
concurrent requests share round trips instead of each paying one.

When Redis cannot be reached (`on_redis_error`): `local` keeps admitting against this process's own windows
(each replica then enforces the whole limit on its own, up to N times it in all) and reports the limiter down in
/health/readiness and `inferstack_gateway_dependency_up{dependency="rate_limits"}`; `closed` refuses requests of
limited keys with a 503 `rate_limiter_unavailable` (Retry-After) until Redis answers again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from inferstack.core.errors import OverloadedError
from inferstack.core.redis_link import RedisLink
from inferstack.gateway.dependency_health import DependencyHealth, ProbeGate
from inferstack.gateway.keys.key_state import KeyState
from inferstack.gateway.limits import lua
from inferstack.gateway.limits.base import (
    KeyLimiter,
    budget_applies,
    budget_refusal,
    rpm_refusal,
    tpm_refusal,
)
from inferstack.gateway.limits.memory import MemoryLimiter
from inferstack.gateway.settings import LimitsConfig

log = logging.getLogger(__name__)

_SOCKET_TIMEOUT_S = 1.0
_BATCH = 500
MAX_PENDING_CHARGES = 100_000
_ADMITTED, _RPM, _TPM, _BUDGET = 0, 1, 2, 3

ScriptArgs = tuple[list[str], list[str | int | float]]


class LimiterUnavailableError(OverloadedError):
    """The shared limiter cannot be reached and is configured to fail closed."""

    default_code = "rate_limiter_unavailable"


class RedisLimiter(KeyLimiter):
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "inferstack",
        on_redis_error: str = "local",
        spend_ttl_s: int = 3600,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._redis = RedisLink(url, socket_timeout_s=_SOCKET_TIMEOUT_S)
        self._client: Any = self._redis.client
        self._admit_script: Any = self._client.register_script(lua.ADMIT)
        self._charge_script: Any = self._client.register_script(lua.CHARGE)
        self._errors = self._redis.errors
        self._no_script = self._redis.no_script_error
        self.description = self._redis.description
        self._fail_closed = on_redis_error == "closed"
        self.health = DependencyHealth(
            "rate_limits",
            self.description,
            degraded="limits refused (503)" if self._fail_closed else "per-process limits (each replica its own)",
        )
        self._gate = ProbeGate(self.health)
        self._prefix = f"{namespace}:limits:"
        self._spend_ttl_s = spend_ttl_s
        self._clock = clock  # None: Redis's own clock
        self._local = MemoryLimiter()
        self._admits: list[tuple[ScriptArgs, asyncio.Future[Any]]] = []
        self._pending: list[ScriptArgs] = []  # charges
        self._sender: asyncio.Task[None] | None = None
        self.charges_lost = 0  # charges not counted in Redis (down, or past MAX_PENDING_CHARGES)

    @classmethod
    def from_config(cls, config: LimitsConfig, fallback_redis_url: str | None) -> RedisLimiter:
        url = config.redis_url.get_secret_value() if config.redis_url else fallback_redis_url
        if not url:
            raise ValueError("limits.redis_url (or cache.redis_url) is required when limits.backend is redis")
        return cls(
            url, namespace=config.namespace, on_redis_error=config.on_redis_error, spend_ttl_s=config.spend_ttl_s
        )

    @property
    def pending_charges(self) -> int:
        return len(self._pending)

    def _keys(self, state: KeyState) -> list[str]:
        # The {token} hash tag keeps one key's counters on one Redis Cluster slot (a script touches them together).
        base = f"{self._prefix}{{{state.token}}}"
        period = int(state.record.budget_reset_at or 0)  # a new budget period starts a new counter
        return [f"{base}:rpm", f"{base}:tpm", f"{base}:spend:{period}"]

    def _now_arg(self) -> float:
        return -1 if self._clock is None else int(self._clock())

    async def admit(self, state: KeyState, now: float) -> None:
        record = state.record
        budget = budget_applies(state, now)
        if record.rpm_limit is None and record.tpm_limit is None and not budget:
            return  # nothing to count: no round trip
        if not self._gate.up_or_probe_due():
            self._without_redis(state, now)
            return
        args = [
            -1 if record.rpm_limit is None else record.rpm_limit,
            -1 if record.tpm_limit is None else record.tpm_limit,
            repr(record.max_budget) if budget else -1,
            repr(state.spend),
            self._now_arg(),
            self._spend_ttl_s,
        ]
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._admits.append(((self._keys(state), args), answer))
        self._kick()
        try:
            verdict, wait, spent = await answer
        except self._errors:
            self._without_redis(state, now)  # the sender marked Redis down
            return
        verdict = int(verdict)
        if verdict == _ADMITTED:
            state.requests.add(1, now)  # the local window stays warm for a Redis outage
        elif verdict == _BUDGET:
            raise budget_refusal(state, float(spent))
        elif verdict == _RPM:
            raise rpm_refusal(record.rpm_limit or 0, float(wait))
        else:
            raise tpm_refusal(record.tpm_limit or 0, float(wait))

    def _without_redis(self, state: KeyState, now: float) -> None:
        if self._fail_closed:
            raise LimiterUnavailableError(
                "the rate limiter (Redis) is unavailable, so this key's limits cannot be checked; retry shortly",
                retry_after=1.0,
            )
        self._local.check(state, now)

    def charge(self, state: KeyState, tokens: int, spend: float) -> None:
        self._local.charge(state, tokens, spend)
        record = state.record
        counted = tokens if record.tpm_limit is not None else 0
        before = state.spend - spend if record.max_budget is not None and spend > 0 else -1.0
        if counted <= 0 and before < 0:
            return
        if len(self._pending) >= MAX_PENDING_CHARGES:
            self.charges_lost += 1
            return
        keys = self._keys(state)
        args: list[str | int | float] = [counted, repr(spend), repr(before), 0, self._now_arg(), self._spend_ttl_s]
        self._pending.append(([keys[1], keys[2]], args))
        self._kick()

    def _kick(self) -> None:
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send(), name="limits-redis")

    async def _send(self) -> None:
        """Everything waiting goes in one pipeline; what arrives meanwhile goes in the next."""
        while self._admits or self._pending:
            admits, self._admits = self._admits[:_BATCH], self._admits[_BATCH:]
            charges, self._pending = self._pending[:_BATCH], self._pending[_BATCH:]
            if not self._gate.may_call():
                self._unanswered(admits, charges, ConnectionError("Redis is marked down"))
                continue
            try:
                try:
                    results = await self._pipeline(admits, charges)
                except self._no_script:  # Redis restarted or flushed its scripts: load them, send once more
                    await self._client.script_load(lua.ADMIT)
                    await self._client.script_load(lua.CHARGE)
                    results = await self._pipeline(admits, charges)
            except self._errors as exc:
                self._unanswered(admits, charges, exc)
                await self._failed(exc)
                continue
            except Exception as exc:  # a bug must fail these requests, never leave them waiting
                log.exception("key limiter: unexpected error talking to Redis")
                self._unanswered(admits, charges, exc)
                continue
            self._answered()
            for (_, answer), result in zip(admits, results, strict=False):
                if not answer.done():
                    answer.set_result(result)

    async def _pipeline(self, admits: list[tuple[ScriptArgs, asyncio.Future[Any]]], charges: list[ScriptArgs]) -> Any:
        async with self._client.pipeline(transaction=False) as pipe:
            for (keys, args), _ in admits:
                pipe.evalsha(self._admit_script.sha, len(keys), *keys, *args)
            for keys, args in charges:
                pipe.evalsha(self._charge_script.sha, len(keys), *keys, *args)
            return await pipe.execute()

    def _unanswered(
        self, admits: list[tuple[ScriptArgs, asyncio.Future[Any]]], charges: list[ScriptArgs], exc: BaseException
    ) -> None:
        self.charges_lost += len(charges)
        for _, answer in admits:
            if not answer.done():
                answer.set_exception(exc)

    async def settle(self) -> None:
        while self._sender is not None and not self._sender.done():
            await asyncio.shield(self._sender)

    async def _failed(self, exc: BaseException) -> None:
        self._gate.failed(exc)
        await self._redis.drop_connections()

    def _answered(self) -> None:
        self._gate.answered()

    async def ping(self) -> bool:
        return await self._redis.ping()

    async def close(self) -> None:
        with suppress(*self._errors):
            await self.settle()
        await self._redis.close()
