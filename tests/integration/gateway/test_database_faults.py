"""PostgreSQL (keys and spend) and Redis (response cache) stopped and started again under load through the real
gateway: clients see no errors for keys in use, spend is exact afterwards (no charge lost or doubled), and the
gateway says what it runs without — one log line per transition, /health/readiness and a /metrics gauge."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from inferstack.gateway.keys.records import key_token
from tests.support.gateway import RunningProcess, admin, deployment, fake_upstream, gateway_process, new_key
from tests.support.private_services import private_postgres, private_redis

PRICE = 0.0009765625  # 2**-10 USD per token: every sum of these is exact in binary floating point
CLIENTS = 3
_WAIT_S = 15.0


@dataclass
class Answer:
    status: int
    cost: float
    cache: str | None
    body: dict[str, Any]


@dataclass
class SteadyLoad:
    """`CLIENTS` threads sending chat requests back to back with one key until stopped; every answer is kept."""

    gateway: RunningProcess
    key: str
    prompt: Callable[[int], str]
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> SteadyLoad:
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(CLIENTS)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _client(self, index: int) -> None:
        with httpx.Client(base_url=self.gateway.base_url, timeout=30) as client:
            sent = 0
            while not self._stop.is_set():
                answer = _chat(client, self.key, self.prompt(index * 1_000_000 + sent))
                sent += 1
                with self._lock:
                    self.answers.append(answer)

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def wait_for_more(self, n: int) -> None:
        target = self.count() + n
        deadline = time.monotonic() + _WAIT_S
        while self.count() < target:
            assert time.monotonic() < deadline, f"the load stalled at {self.count()} answers"
            time.sleep(0.02)


def _chat(client: httpx.Client, key: str, text: str) -> Answer:
    body = {"model": "m", "messages": [{"role": "user", "content": text}], "temperature": 0}
    response = client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    payload = response.json()
    cache = response.headers.get("x-inferstack-cache")
    usage = payload.get("usage") or {}
    tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    charged = response.status_code == 200 and cache != "hit"  # a cache hit costs nothing
    return Answer(response.status_code, tokens * PRICE if charged else 0.0, cache, payload)


def _readiness(gateway: RunningProcess) -> dict[str, Any]:
    response = httpx.get(gateway.base_url + "/health/readiness", timeout=10)
    assert response.status_code == 200, response.text  # degraded is still ready: the gateway serves
    body: dict[str, Any] = response.json()
    return body


def _dependency_gauge(gateway: RunningProcess, name: str) -> float:
    text = httpx.get(gateway.base_url + "/metrics", timeout=10).text
    found = re.search(rf'^inferstack_gateway_dependency_up\{{dependency="{name}"\}} (\S+)$', text, re.MULTILINE)
    assert found, f"no dependency gauge for {name}"
    return float(found.group(1))


def _wait_dependency(gateway: RunningProcess, name: str, *, up: bool) -> dict[str, Any]:
    deadline = time.monotonic() + _WAIT_S
    while True:
        body = _readiness(gateway)
        if body["dependencies"][name]["up"] is up:
            return body
        assert time.monotonic() < deadline, f"{name} never reported up={up}: {body}"
        time.sleep(0.05)


def _wait_usage_written(gateway: RunningProcess) -> None:
    deadline = time.monotonic() + _WAIT_S
    while (body := _readiness(gateway))["usage_totals_pending"] or body["usage_rows_pending"]:
        assert time.monotonic() < deadline, f"usage never written: {body}"
        time.sleep(0.05)


def _log_lines(gateway: RunningProcess, *needles: str) -> list[str]:
    return [line for line in gateway.log().splitlines() if all(n in line for n in needles)]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    with fake_upstream(tmp_path_factory.mktemp("faults-upstream"), "u") as proc:
        yield proc


def _config(upstream: RunningProcess, **extra: Any) -> dict[str, Any]:
    return {
        "model_list": [deployment("m", upstream, input_cost_per_token=PRICE, output_cost_per_token=PRICE)],
        "router": {"health_check_interval_s": 0},
        "usage_flush_interval_s": 0.2,
        "key_sync_interval_s": 0.2,
        **extra,
    }


def test_postgres_outage_under_load_keeps_spend_exact(tmp_path: Path, upstream: RunningProcess) -> None:
    with private_postgres() as postgres, gateway_process(tmp_path, _config(upstream, database_url=postgres.url)) as gw:
        busy = new_key(gw, key_alias="busy", max_budget=1000)
        capped = new_key(gw, key_alias="capped", max_budget=48 * PRICE)  # a few requests' worth
        assert _dependency_gauge(gw, "database") == 1.0
        with SteadyLoad(gw, busy, lambda i: f"steady request {i}") as load:
            load.wait_for_more(20)
            postgres.stop()
            down = _wait_dependency(gw, "database", up=False)
            assert down["status"] == "degraded" and "spend and usage are kept in memory" in str(down["dependencies"])
            assert _dependency_gauge(gw, "database") == 0.0
            load.wait_for_more(50)  # keys in use keep working from memory meanwhile

            with httpx.Client(base_url=gw.base_url, timeout=30) as client:
                capped_answers = [_chat(client, capped, "one two three") for _ in range(12)]
                unknown = client.post(
                    "/v1/chat/completions",
                    json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                    headers={"Authorization": "Bearer sk-a-key-this-gateway-has-never-seen"},
                )
            assert unknown.status_code == 503 and unknown.headers["retry-after"] == "1"
            assert unknown.json()["error"]["code"] == "key_database_unavailable"
            assert set(unknown.json()["error"]) == {"message", "type", "param", "code"}
            admitted = [a for a in capped_answers if a.status == 200]
            refused = [a for a in capped_answers if a.status != 200]
            assert admitted and refused, "the budget is enforced from memory while the database is away"
            assert {a.body["error"]["code"] for a in refused} == {"budget_exceeded"}
            assert _readiness(gw)["usage_totals_pending"] > 0, "usage waits in memory for the database"
            key_api = admin(gw, "POST", "/key/generate", json={"key_alias": "during-outage"})
            assert key_api.status_code == 503 and key_api.json()["error"]["code"] == "database_unavailable"

            postgres.start()
            _wait_dependency(gw, "database", up=True)
            assert _dependency_gauge(gw, "database") == 1.0
            load.wait_for_more(20)
        _wait_usage_written(gw)

        assert {a.status for a in load.answers} == {200}, "no client of a key in use saw the outage"
        expected = {
            key_token(busy): sum(a.cost for a in load.answers),
            key_token(capped): sum(a.cost for a in admitted),
        }
        with psycopg.connect(postgres.url) as conn:
            stored = dict(conn.execute("SELECT token, spend FROM virtual_keys").fetchall())
            requests = dict(conn.execute("SELECT token, SUM(requests) FROM usage_totals GROUP BY token").fetchall())
        assert {token: stored[token] for token in expected} == expected, "every charge stored exactly once"
        assert requests == {key_token(busy): len(load.answers), key_token(capped): len(admitted) + len(refused)}
        info = admin(gw, "GET", "/key/info", params={"key": "busy"}).json()["info"]
        assert info["spend"] == expected[key_token(busy)]
        with httpx.Client(base_url=gw.base_url, timeout=30) as client:
            assert _chat(client, capped, "still over").status == 400

    assert len(_log_lines(gw, "database (postgresql://127.0.0.1", "unavailable")) == 1, "one error per outage"
    assert len(_log_lines(gw, "database (postgresql://127.0.0.1", "reachable again")) == 1


def test_redis_outage_under_load_degrades_to_no_cache_and_reconnects(tmp_path: Path, upstream: RunningProcess) -> None:
    with private_redis(tmp_path) as redis:
        cache = {"enabled": True, "type": "redis", "redis_url": redis.url, "ttl_s": 60}
        with gateway_process(tmp_path, _config(upstream, cache=cache)) as gw:
            key = new_key(gw, key_alias="cached", max_budget=1000)
            with SteadyLoad(gw, key, lambda i: f"popular question {i % 5}") as load:
                load.wait_for_more(30)
                assert any(a.cache == "hit" for a in load.answers)
                redis.stop()
                down = _wait_dependency(gw, "cache", up=False)
                assert down["status"] == "degraded" and down["dependencies"]["database"]["up"] is True
                assert _dependency_gauge(gw, "cache") == 0.0
                during = load.count()
                load.wait_for_more(40)
                outage = load.answers[during:]
                assert all(a.cache == "miss" for a in outage), "no hits without Redis, and no errors"
                redis.start()
                _wait_dependency(gw, "cache", up=True)
                assert _dependency_gauge(gw, "cache") == 1.0
                after = load.count()
                load.wait_for_more(40)
                assert any(a.cache == "hit" for a in load.answers[after:]), "the cache serves again after Redis returns"
            _wait_usage_written(gw)
            assert {a.status for a in load.answers} == {200}
            info = admin(gw, "GET", "/key/info", params={"key": "cached"}).json()["info"]
            assert info["spend"] == sum(a.cost for a in load.answers), "misses charged, hits free, none twice"
        assert len(_log_lines(gw, f"cache (redis://127.0.0.1:{redis.port})", "unavailable")) == 1
        assert len(_log_lines(gw, f"cache (redis://127.0.0.1:{redis.port})", "reachable again")) == 1
