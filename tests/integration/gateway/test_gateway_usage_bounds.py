"""Sustained load through a real gateway process: pending usage rows stay under their bound while spend, token
and request totals come out exact (detail rows beyond the bound are counted, never their spend)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from tests.support.gateway import MASTER_KEY, RunningProcess, deployment, fake_upstream, gateway_process, new_key

REQUESTS = 5_000
CONCURRENCY = 16
ROW_BOUND = 100
COST = 0.05  # "one two" is 5 tokens at 0.01 each way


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    with fake_upstream(tmp_path_factory.mktemp("bounds-upstream"), "u") as proc:
        yield proc


async def _load(gateway: RunningProcess, key: str, pending_seen: list[int]) -> list[int]:
    body = {"model": "m", "messages": [{"role": "user", "content": "one two"}]}
    statuses: list[int] = []
    remaining = iter(range(REQUESTS))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url=gateway.base_url, timeout=timeout) as client:

        async def worker() -> None:
            headers = {"Authorization": f"Bearer {key}"}
            for _ in remaining:
                async with client.post("/v1/chat/completions", json=body, headers=headers) as response:
                    await response.read()
                    statuses.append(response.status)

        async def watch() -> None:
            while len(statuses) < REQUESTS:
                async with client.get("/health") as response:
                    pending_seen.append((await response.json())["usage_rows_pending"])
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        await watcher
    return statuses


def test_pending_rows_stay_bounded_and_totals_exact(tmp_path: Path, upstream: RunningProcess) -> None:
    config = {
        "model_list": [deployment("m", upstream, input_cost_per_token=0.01, output_cost_per_token=0.01)],
        "router": {"health_check_interval_s": 0},
        "usage_max_pending_rows": ROW_BOUND,
    }
    pending_seen: list[int] = []
    with gateway_process(tmp_path, config) as gateway:
        key = new_key(gateway, key_alias="load", max_budget=REQUESTS * COST * 10)
        statuses = asyncio.run(_load(gateway, key, pending_seen))
        assert statuses == [200] * REQUESTS
        metrics = httpx.get(gateway.base_url + "/metrics").text
        info = httpx.get(
            gateway.base_url + "/key/info", params={"key": "load"}, headers={"Authorization": f"Bearer {MASTER_KEY}"}
        ).json()["info"]
        assert info["spend"] == pytest.approx(REQUESTS * COST, rel=1e-9)
    assert pending_seen and max(pending_seen) <= ROW_BOUND
    dropped = next(
        float(line.rpartition(" ")[2])
        for line in metrics.splitlines()
        if line.startswith("inferstack_gateway_usage_rows_dropped ")
    )
    with sqlite3.connect(tmp_path / "data" / "gateway.db") as db:
        requests, prompt, completion, spend = db.execute(
            "SELECT SUM(requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(spend) FROM usage_totals"
        ).fetchone()
        rows = db.execute("SELECT COUNT(*) FROM spend_logs").fetchone()[0]
        stored = db.execute("SELECT spend FROM virtual_keys WHERE key_alias = 'load'").fetchone()[0]
    assert requests == REQUESTS and prompt + completion == 5 * REQUESTS
    assert spend == pytest.approx(REQUESTS * COST, rel=1e-9) and stored == pytest.approx(REQUESTS * COST, rel=1e-9)
    assert rows + dropped == REQUESTS
