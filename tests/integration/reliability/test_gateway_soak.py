"""A one-minute soak of a real gateway process at full rate, with its database unable to take writes after the
warm-up: resident memory stays within a bound far above noise, pending usage stays under its setting, and once
the database is back, spend, tokens and requests come out exact.

The run is bounded by a request count and by time, whichever ends first; nothing is asserted about speed.
The database is write-locked from the end of the warm-up to the end of the load (a database slower than the
request rate, the way usage piled up in memory before it was aggregated), and each request names a model with
a 12,000-character name, so an object kept per request costs ~12 KB: a gateway that queued one row per request
passes the 40 MB bound after about 3,500 requests, well inside what even a crowded machine serves in a
minute (the gateway before usage aggregation fails here; with a writable database it keeps up and passes).
The price is a power of two (2**-20 USD per token), so every cost and every sum is exact in floating point and
the spend stored must *equal* the tokens clients were told they used times the price.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import psutil
import pytest

from tests.support.gateway import MASTER_KEY, RunningProcess, deployment, fake_upstream, gateway_process, new_key

MODEL = "soak-" + "m" * 11995
PRICE = 2.0**-20
CONCURRENCY = 32
WARMUP_REQUESTS = 5_000
MAX_REQUESTS = 100_000
LOAD_SECONDS = 60.0
ROW_BOUND = 500
GROWTH_BOUND_MB = 40.0


@dataclass
class SoakRun:
    ok: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    tokens: int = 0
    rss_at_warmup_mb: float | None = None
    rss_after_warmup_mb: list[float] = field(default_factory=list)
    pending_rows_seen: list[int] = field(default_factory=list)


def rss_mb(pid: int) -> float:
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in (root, *root.children(recursive=True))) / 2**20


async def soak(gateway: RunningProcess, key: str, database: Path) -> SoakRun:
    run = SoakRun()
    sent = 0
    stop_at = time.monotonic() + LOAD_SECONDS
    body = {"model": MODEL, "messages": [{"role": "user", "content": "one two"}]}
    headers = {"Authorization": f"Bearer {key}"}
    url = gateway.base_url + "/v1/chat/completions"

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while sent < MAX_REQUESTS and time.monotonic() < stop_at:
            sent += 1
            async with session.post(url, json=body, headers=headers) as response:
                payload = await response.json() if response.status == 200 else None
            run.statuses[response.status] += 1
            if payload is not None:
                run.ok += 1
                run.tokens += payload["usage"]["prompt_tokens"] + payload["usage"]["completion_tokens"]

    # Holds SQLite's write lock (WAL: reads go on) from the end of the warm-up; the gateway's writes time out
    # and are retried, as with any database that cannot keep up.
    lock = sqlite3.connect(database, isolation_level=None)

    async def watch(session: aiohttp.ClientSession, workers: asyncio.Future[list[None]]) -> None:
        while not workers.done():
            if run.rss_at_warmup_mb is None and run.ok >= WARMUP_REQUESTS:
                run.rss_at_warmup_mb = rss_mb(gateway.process.pid)
                lock.execute("BEGIN IMMEDIATE")
            elif run.rss_at_warmup_mb is not None:
                run.rss_after_warmup_mb.append(rss_mb(gateway.process.pid))
            async with session.get(gateway.base_url + "/health") as response:
                run.pending_rows_seen.append((await response.json())["usage_rows_pending"])
            await asyncio.sleep(0.5)

    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY + 1)
    # x-inferstack-deployment names the model: its header line is longer than aiohttp's default 8 KB limit.
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, max_line_size=2**16, max_field_size=2**16
    ) as session:
        workers = asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
        try:
            await asyncio.gather(workers, watch(session, workers))
        finally:
            run.rss_after_warmup_mb.append(rss_mb(gateway.process.pid))
            if lock.in_transaction:
                lock.execute("COMMIT")
            lock.close()
    return run


def drained(gateway: RunningProcess) -> bool:
    for _ in range(240):
        health = httpx.get(gateway.base_url + "/health", timeout=10).json()
        if health["usage_rows_pending"] == 0 and health["usage_totals_pending"] == 0:
            return True
        time.sleep(0.25)
    return False


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    with fake_upstream(tmp_path_factory.mktemp("soak-upstream"), "u") as proc:
        yield proc


def test_gateway_memory_stays_bounded_and_spend_exact_under_a_minute_of_full_load(
    tmp_path: Path, upstream: RunningProcess
) -> None:
    config = {
        "model_list": [deployment(MODEL, upstream, input_cost_per_token=PRICE, output_cost_per_token=PRICE)],
        "router": {"health_check_interval_s": 0},
        "usage_max_pending_rows": ROW_BOUND,
    }
    with gateway_process(tmp_path, config) as gateway:
        key = new_key(gateway, key_alias="soak", max_budget=10**6, rpm_limit=10**8, tpm_limit=10**9)
        run = asyncio.run(soak(gateway, key, tmp_path / "data" / "gateway.db"))
        assert drained(gateway)
        info = httpx.get(
            gateway.base_url + "/key/info", params={"key": "soak"}, headers={"Authorization": f"Bearer {MASTER_KEY}"}
        ).json()["info"]

    assert run.statuses == {200: run.ok}
    assert run.rss_at_warmup_mb is not None, f"only {run.ok} requests: the warm-up never ended"
    growth = max(run.rss_after_warmup_mb) - run.rss_at_warmup_mb
    assert growth <= GROWTH_BOUND_MB, (
        f"RSS grew {growth:.1f} MB after warm-up over {run.ok - WARMUP_REQUESTS} requests "
        f"({run.rss_at_warmup_mb:.1f} -> {max(run.rss_after_warmup_mb):.1f} MB)"
    )
    assert max(run.pending_rows_seen) <= ROW_BOUND
    expected_spend = run.tokens * PRICE
    assert info["spend"] == expected_spend
    with sqlite3.connect(tmp_path / "data" / "gateway.db") as db:
        requests, tokens, spend = db.execute(
            "SELECT SUM(requests), SUM(prompt_tokens + completion_tokens), SUM(spend) FROM usage_totals"
        ).fetchone()
        key_spend = db.execute("SELECT spend FROM virtual_keys WHERE key_alias = 'soak'").fetchone()[0]
    assert (requests, tokens) == (run.ok, run.tokens)
    assert spend == expected_spend and key_spend == expected_spend
