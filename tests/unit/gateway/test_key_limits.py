"""Behaviour every `KeyLimiter` shares (memory and redis), then what only the shared one promises: two limiters on
one Redis (two replicas) enforce one RPM, TPM and budget, and a Redis that is away fails open or closed as set.

The Redis limiter runs against a private redis-server; a test clock is passed to its Lua scripts so the window
can be moved without waiting.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import pytest_asyncio

from inferstack.core.errors import RateLimitError
from inferstack.gateway.keys.key_state import BudgetExceededError, KeyState
from inferstack.gateway.keys.records import VirtualKey
from inferstack.gateway.limits import KeyLimiter
from inferstack.gateway.limits.memory import MemoryLimiter
from inferstack.gateway.limits.redis_limiter import LimiterUnavailableError, RedisLimiter
from inferstack.gateway.rolling_window import RollingWindow
from inferstack.gateway.settings import LimitsConfig
from tests.support.private_services import PrivateRedis, private_redis
from tests.support.processes import free_port

START = 1_700_000_000.0


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server: PrivateRedis
    with private_redis(tmp_path_factory.mktemp("limits-redis")) as server:
        yield server.url


@dataclass
class Replicas:
    """`make()` builds one limiter; for redis every one made shares the same Redis (another replica)."""

    make: Callable[[], KeyLimiter]
    clock: Clock
    shared: bool
    made: list[KeyLimiter]

    def new(self) -> KeyLimiter:
        limiter = self.make()
        self.made.append(limiter)
        return limiter


@pytest_asyncio.fixture(params=["memory", "redis"], loop_scope="function")
async def replicas(request: pytest.FixtureRequest) -> AsyncIterator[Replicas]:
    clock = Clock()
    if request.param == "memory":
        made = Replicas(MemoryLimiter, clock, shared=False, made=[])
    else:
        url = request.getfixturevalue("redis_url")
        namespace = f"t{uuid.uuid4().hex[:8]}"
        made = Replicas(lambda: RedisLimiter(url, namespace=namespace, clock=clock), clock, shared=True, made=[])
    yield made
    for limiter in made.made:
        await limiter.close()


def _key(**limits: object) -> KeyState:
    return KeyState(VirtualKey(token=uuid.uuid4().hex, key_name="sk-...test", **limits))  # type: ignore[arg-type]


async def _admitted(limiter: KeyLimiter, state: KeyState, now: float) -> bool:
    try:
        await limiter.admit(state, now)
    except RateLimitError:
        return False
    return True


async def test_rpm_admits_exactly_the_limit_then_refuses_with_retry_after(replicas: Replicas) -> None:
    limiter, state = replicas.new(), _key(rpm_limit=5)
    results = [await _admitted(limiter, state, START) for _ in range(8)]
    assert results == [True] * 5 + [False] * 3
    with pytest.raises(RateLimitError) as refused:
        await limiter.admit(state, START)
    assert refused.value.status_code == 429 and refused.value.code == "rate_limit_exceeded"
    assert refused.value.retry_after == 60.0  # every request is in the current second: it leaves the window in 60 s


async def test_the_window_slides_bucket_by_bucket(replicas: Replicas) -> None:
    limiter, state = replicas.new(), _key(rpm_limit=3)
    for offset in (0, 10, 20):
        replicas.clock.now = START + offset
        assert await _admitted(limiter, state, START + offset)
    replicas.clock.now = START + 59
    with pytest.raises(RateLimitError) as refused:
        await limiter.admit(state, START + 59)
    assert refused.value.retry_after == 1.0  # the request of START leaves the window at START + 60
    replicas.clock.now = START + 60
    assert await _admitted(limiter, state, START + 60)
    assert not await _admitted(limiter, state, START + 60)


async def test_concurrent_admissions_never_exceed_the_limit(replicas: Replicas) -> None:
    state = _key(rpm_limit=20)
    # Two replicas when the limiter is shared (each with its own view of the key); one process otherwise.
    limiters = [replicas.new(), replicas.new()] if replicas.shared else [replicas.new()]
    states = [state, replace(state, requests=type(state.requests)())] if replicas.shared else [state]
    outcomes = await asyncio.gather(
        *(_admitted(limiters[i % len(limiters)], states[i % len(states)], START) for i in range(60))
    )
    assert sum(outcomes) == 20


async def test_tpm_refuses_once_the_counted_tokens_reach_the_limit(replicas: Replicas) -> None:
    limiter, state = replicas.new(), _key(tpm_limit=100)
    for _ in range(3):
        assert await _admitted(limiter, state, START)
        limiter.charge(state, 40, 0.0)
        await limiter.settle()
    with pytest.raises(RateLimitError) as refused:
        await limiter.admit(state, START)
    assert refused.value.code == "tpm_exceeded" and refused.value.retry_after is not None


async def test_budget_refuses_once_spend_reaches_it(replicas: Replicas) -> None:
    limiter, state = replicas.new(), _key(max_budget=1.0)
    await limiter.admit(state, START)
    state.unflushed_spend += 1.0  # what KeyRegistry.charge does before it calls the limiter
    limiter.charge(state, 10, 1.0)
    await limiter.settle()
    with pytest.raises(BudgetExceededError) as refused:
        await limiter.admit(state, START)
    assert refused.value.status_code == 400 and "max_budget $1.000000" in refused.value.message


async def test_a_key_without_limits_is_always_admitted(replicas: Replicas) -> None:
    limiter, state = replicas.new(), _key()
    for _ in range(100):
        await limiter.admit(state, START)
        limiter.charge(state, 1000, 0.0)
    await limiter.settle()


# What only the shared limiter promises.


async def test_two_replicas_share_tpm_and_budget(redis_url: str) -> None:
    namespace = f"t{uuid.uuid4().hex[:8]}"
    first, second = (RedisLimiter(redis_url, namespace=namespace) for _ in range(2))
    try:
        record = VirtualKey(token=uuid.uuid4().hex, key_name="k", tpm_limit=50, max_budget=2.0)
        on_first, on_second = KeyState(record), KeyState(record)  # each replica's own view of the key
        await first.admit(on_first, START)
        on_first.unflushed_spend += 1.5
        first.charge(on_first, 60, 1.5)
        await first.settle()
        with pytest.raises(RateLimitError, match="50 tokens per minute"):
            await second.admit(on_second, START)  # the second replica counted nothing itself
        record_without_tpm = replace(record, tpm_limit=None)
        on_second.record = record_without_tpm
        await second.admit(on_second, START)  # $1.5 of $2: admitted
        on_second.unflushed_spend += 0.5
        second.charge(on_second, 10, 0.5)
        await second.settle()
        on_first.record = record_without_tpm
        with pytest.raises(BudgetExceededError, match=r"spend \$2\.000000"):
            await first.admit(on_first, START)
    finally:
        await first.close()
        await second.close()


async def test_a_new_budget_period_starts_a_new_shared_counter(redis_url: str) -> None:
    limiter = RedisLimiter(redis_url, namespace=f"t{uuid.uuid4().hex[:8]}")
    try:
        state = _key(max_budget=1.0, budget_duration="1h", budget_reset_at=START + 3600)
        state.unflushed_spend = 1.0
        limiter.charge(state, 1, 1.0)
        await limiter.settle()
        with pytest.raises(BudgetExceededError):
            await limiter.admit(state, START)
        # The key store reset the period (stored spend 0, next reset time); this process has flushed its spend.
        state.record = replace(state.record, spend=0.0, budget_reset_at=START + 7200)
        state.unflushed_spend = 0.0
        await limiter.admit(state, START + 3601)
    finally:
        await limiter.close()


async def test_redis_away_fails_open_to_per_process_limits(tmp_path: Path) -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0", on_redis_error="local")
    try:
        assert not await limiter.ping()
        state = _key(rpm_limit=2)
        assert [await _admitted(limiter, state, START) for _ in range(3)] == [True, True, False]
        assert limiter.health is not None and not limiter.health.up
        assert limiter.health.detail()["running_without"] == "per-process limits (each replica its own)"
        await limiter.admit(_key(), START)  # an unlimited key needs no Redis at all
    finally:
        await limiter.close()


async def test_redis_away_fails_closed_with_a_503_when_configured() -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0", on_redis_error="closed")
    try:
        for _ in range(2):  # the first call finds Redis down, the second is refused without trying it
            with pytest.raises(LimiterUnavailableError) as refused:
                await limiter.admit(_key(rpm_limit=10), START)
            assert refused.value.status_code == 503 and refused.value.code == "rate_limiter_unavailable"
            assert refused.value.retry_after == 1.0
        await limiter.admit(_key(), START)
    finally:
        await limiter.close()


def test_the_redis_limiter_takes_the_cache_url_when_it_has_none_of_its_own() -> None:
    limiter = KeyLimiter.create(LimitsConfig(backend="redis"), "redis://cache-host:6380/0")
    assert limiter.description == "redis://cache-host:6380"
    with pytest.raises(ValueError, match=r"limits\.redis_url"):
        KeyLimiter.create(LimitsConfig(backend="redis"), None)
    assert isinstance(KeyLimiter.create(LimitsConfig(), None), MemoryLimiter)


async def test_the_redis_window_decides_like_the_in_process_window_over_a_long_random_run(redis_url: str) -> None:
    """Same requests at the same (test-clock) times, bursts, gaps past the window and clock steps back included:
    every verdict and every Retry-After of the Lua window equals `RollingWindow`'s (via MemoryLimiter)."""
    clock = Clock()
    redis = RedisLimiter(redis_url, namespace=f"t{uuid.uuid4().hex[:8]}", clock=clock)
    memory = MemoryLimiter()
    rng = random.Random(7)
    record = VirtualKey(token=uuid.uuid4().hex, key_name="k", rpm_limit=25, tpm_limit=400)
    on_redis, on_memory = KeyState(record), KeyState(record)
    now = START
    seen: Counter[str] = Counter()
    try:
        for step in range(1500):
            now += rng.choice([0, 0, 0, 0.3, 1, 2, 5, 17]) if step % 400 else 75  # a gap empties the window
            if step % 97 == 0:
                now -= 2  # a clock step back counts into the latest second
            clock.now = now
            verdicts: list[tuple[str | None, int | None]] = []
            for limiter, state in ((redis, on_redis), (memory, on_memory)):
                try:
                    await limiter.admit(state, now)
                    verdicts.append(("ok", None))
                except RateLimitError as refused:
                    # Redis counts whole seconds of its clock; in process the wait is to the fraction.
                    verdicts.append((refused.code, math.ceil(refused.retry_after or 0)))
            assert verdicts[0] == verdicts[1], (step, now, verdicts)
            seen[str(verdicts[0][0])] += 1
            if verdicts[0][0] == "ok":
                tokens = rng.randint(1, 30)
                redis.charge(on_redis, tokens, 0.0)
                on_memory.tokens.add(tokens, now)  # the memory limiter's charge, at the test clock's time
                await redis.settle()
    finally:
        await redis.close()
    assert min(seen[v] for v in ("ok", "rate_limit_exceeded", "tpm_exceeded")) >= 20, seen  # every path, often


async def test_shared_limits_return_when_redis_does_and_its_scripts_are_loaded_again(tmp_path: Path) -> None:
    with private_redis(tmp_path) as server:
        limiter = RedisLimiter(server.url, namespace="restart")
        try:
            state = _key(rpm_limit=1000)
            await limiter.admit(state, START)
            server.stop()
            await limiter.admit(state, START)  # served from the local window
            assert limiter.health is not None and not limiter.health.up
            server.start()  # empty: no scripts, no counts
            deadline = time.monotonic() + 30
            while not limiter.health.up:  # one probe a second; the first that answers restores shared limits
                assert time.monotonic() < deadline, limiter.health.detail()
                await limiter.admit(state, START)
                await asyncio.sleep(0.1)
            other = _key(rpm_limit=1)
            await limiter.admit(other, START)
            replica = RedisLimiter(server.url, namespace="restart")
            try:
                with pytest.raises(RateLimitError):  # counted in Redis again (a fresh local window would admit it)
                    await replica.admit(replace(other, requests=RollingWindow()), START)
            finally:
                await replica.close()
        finally:
            await limiter.close()


async def test_an_unexpected_failure_fails_the_waiting_requests_instead_of_leaving_them_waiting(redis_url: str) -> None:
    limiter = RedisLimiter(redis_url, namespace=f"t{uuid.uuid4().hex[:8]}")
    try:

        async def broken(*args: object) -> object:
            raise ValueError("a bug")

        limiter._pipeline = broken  # type: ignore[method-assign,assignment]
        results = await asyncio.wait_for(
            asyncio.gather(*(limiter.admit(_key(rpm_limit=5), START) for _ in range(3)), return_exceptions=True),
            timeout=30,
        )
        assert [type(r) for r in results] == [ValueError] * 3
    finally:
        await limiter.close()
