"""What sharing key limits through Redis costs per request, memory limiter against Redis limiter in one run.

Two parts, each alternating the two limiters in rounds (A B B A) so drift falls on both alike:

1. in process: `KeyLimiter.admit` + `charge` for a key with RPM, TPM and a budget, sequentially, against a private
   redis-server on loopback (what the limiter itself adds);
2. end to end: two `inferstack gateway` processes in front of one fake upstream, `limits.backend: memory` and
   `limits.backend: redis`, each with such a key; c=1 latency and c=16 requests/s.

    .venv/bin/python benchmarks/gateway_limits.py [--requests 400] [--rounds 2]

Figures are ratios and differences for this machine, not thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.gateway import deployment, fake_upstream, gateway_process, new_key  # noqa: E402
from tests.support.private_services import private_redis  # noqa: E402

from inferstack.gateway.keys.key_state import KeyState  # noqa: E402
from inferstack.gateway.keys.records import VirtualKey  # noqa: E402
from inferstack.gateway.limits import KeyLimiter  # noqa: E402
from inferstack.gateway.limits.memory import MemoryLimiter  # noqa: E402
from inferstack.gateway.limits.redis_limiter import RedisLimiter  # noqa: E402

LIMITS: dict[str, Any] = {"rpm_limit": 10**9, "tpm_limit": 10**9, "max_budget": 10.0**6}


async def _limiter_us(limiter: KeyLimiter, requests: int) -> float:
    """Microseconds per admitted-and-charged request, sequential."""
    state = KeyState(VirtualKey(token=uuid.uuid4().hex, key_name="bench", **LIMITS))
    started = time.perf_counter()
    for _ in range(requests):
        await limiter.admit(state, time.time())
        state.unflushed_spend += 1e-6
        limiter.charge(state, 7, 1e-6)
    await limiter.settle()
    return (time.perf_counter() - started) / requests * 1e6


async def in_process(redis_url: str, requests: int, rounds: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"memory": [], "redis": []}
    redis = RedisLimiter(redis_url, namespace=f"bench{uuid.uuid4().hex[:6]}")
    limiters: dict[str, KeyLimiter] = {"memory": MemoryLimiter(), "redis": redis}
    try:
        for _ in range(rounds):
            for name in ("memory", "redis", "redis", "memory"):
                figures[name].append(await _limiter_us(limiters[name], requests))
    finally:
        await redis.close()
    return figures


async def _c1_ms(url: str, key: str, requests: int) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "m", "messages": [{"role": "user", "content": "one two three"}]}
    latencies = []
    async with aiohttp.ClientSession() as session:
        for _ in range(requests):
            started = time.perf_counter()
            async with session.post(url + "/v1/chat/completions", json=body, headers=headers) as response:
                await response.read()
                assert response.status == 200, response.status
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def _c16_rps(url: str, key: str, requests: int) -> float:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "m", "messages": [{"role": "user", "content": "one two three"}]}
    remaining = iter(range(requests))

    async def worker(session: aiohttp.ClientSession) -> None:
        for _ in remaining:
            async with session.post(url + "/v1/chat/completions", json=body, headers=headers) as response:
                await response.read()
                assert response.status == 200, response.status

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(16)))
    return requests / (time.perf_counter() - started)


def end_to_end(tmp: Path, redis_url: str, requests: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    figures: dict[str, dict[str, list[float]]] = {n: {"c1_ms": [], "c16_rps": []} for n in ("memory", "redis")}
    with fake_upstream(tmp, "u") as upstream:
        base = {"model_list": [deployment("m", upstream)], "router": {"health_check_interval_s": 0}}
        memory_dir, redis_dir = tmp / "memory", tmp / "redis"
        memory_dir.mkdir()
        redis_dir.mkdir()
        redis_limits = {"limits": {"backend": "redis", "redis_url": redis_url, "namespace": "bench"}}
        with (
            gateway_process(memory_dir, base) as memory,
            gateway_process(redis_dir, {**base, **redis_limits}) as redis,
        ):
            targets: dict[str, tuple[str, str]] = {
                "memory": (memory.base_url, new_key(memory, **LIMITS)),
                "redis": (redis.base_url, new_key(redis, **LIMITS)),
            }
            for url, key in targets.values():  # warm-up: connections, first-use key lookups
                asyncio.run(_c1_ms(url, key, 50))
            for _ in range(rounds):
                for name in ("memory", "redis", "redis", "memory"):
                    url, key = targets[name]
                    figures[name]["c1_ms"].extend(asyncio.run(_c1_ms(url, key, requests)))
                    figures[name]["c16_rps"].append(asyncio.run(_c16_rps(url, key, requests)))
    return figures


def _line(label: str, memory: float, redis: float, unit: str, better: Callable[[float, float], float]) -> str:
    return f"| {label} | {memory:.1f} {unit} | {redis:.1f} {unit} | {better(memory, redis):.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="requests per target per round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="inferstack-limits-bench-") as name, private_redis(Path(name)) as redis:
        tmp = Path(name)
        micro = asyncio.run(in_process(redis.url, args.requests * 5, args.rounds))
        e2e = end_to_end(tmp, redis.url, args.requests, args.rounds)
    med = statistics.median
    c1 = {n: med(e2e[n]["c1_ms"]) for n in e2e}
    p90 = {n: statistics.quantiles(e2e[n]["c1_ms"], n=10)[-1] for n in e2e}
    rps = {n: med(e2e[n]["c16_rps"]) for n in e2e}
    us = {n: med(micro[n]) for n in micro}
    print("| figure | memory limiter | redis limiter | redis / memory |")
    print("|---|---|---|---|")
    print(
        _line("limiter alone, admit + charge (median of rounds)", us["memory"], us["redis"], "µs", lambda m, r: r / m)
    )
    print(_line("gateway c=1 latency, median", c1["memory"], c1["redis"], "ms", lambda m, r: r / m))
    print(_line("gateway c=1 latency, p90", p90["memory"], p90["redis"], "ms", lambda m, r: r / m))
    print(_line("gateway c=16 throughput, median of rounds", rps["memory"], rps["redis"], "req/s", lambda m, r: r / m))
    print(f"\nc=1 median difference: {(c1['redis'] - c1['memory']) * 1000:.0f} µs per request")
    print(f"requests: {args.requests} per target per round, {args.rounds} rounds of A B B A")


if __name__ == "__main__":
    main()
