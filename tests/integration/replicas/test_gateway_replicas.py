"""Two real gateway processes (and one with `--workers 2`) sharing one real redis-server and one key database
enforce ONE set of key limits: RPM exactly, TPM and budget at the limit, revocations and updates on one replica
refused by the other within the key sync interval.

    fake upstream (process) <-- gateway A --+-- redis-server (limits.backend: redis)
                            <-- gateway B --+-- SQLite file in one data dir (keys, spend)

The TPM and budget tests wait until a finished request's tokens/spend are counted in Redis before sending the next
one (they are charged behind the response, docs/gateway.md); that is what makes "refused exactly at the limit"
a deterministic figure rather than a race.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis

from inferstack.gateway.keys.records import key_token
from tests.support.gateway import admin, deployment, fake_upstream, gateway_process, new_key
from tests.support.private_services import PrivateRedis, private_redis
from tests.support.processes import RunningProcess

PRICE = 0.001  # $ per prompt and per completion token
SYNC_S = 0.5
TEXT = "one two three"  # 3 prompt tokens; the fake upstream answers "[u] one two three": 4 completion tokens
TOKENS_PER_REQUEST = 7


@dataclass
class Replicas:
    a: RunningProcess
    b: RunningProcess
    redis: PrivateRedis
    namespace: str
    tmp: Path
    upstream: RunningProcess

    @property
    def both(self) -> tuple[RunningProcess, RunningProcess]:
        return self.a, self.b


def _config(upstream: RunningProcess, redis_url: str, namespace: str) -> dict[str, Any]:
    return {
        "model_list": [deployment("m", upstream, input_cost_per_token=PRICE, output_cost_per_token=PRICE)],
        "router": {"health_check_interval_s": 0},
        "limits": {"backend": "redis", "redis_url": redis_url, "namespace": namespace},
        "key_sync_interval_s": SYNC_S,
        # Spend reaches the database (and the other replica's sync) only after this; a budget that holds
        # across replicas before it is the shared Redis counter's doing.
        "usage_flush_interval_s": 60,
    }


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    tmp = tmp_path_factory.mktemp("replicas")
    namespace = f"r{uuid.uuid4().hex[:8]}"
    with private_redis(tmp) as server, fake_upstream(tmp, "u") as upstream:
        config = _config(upstream, server.url, namespace)
        # Same tmp: both use <tmp>/data/gateway.db, one SQLite key store.
        with gateway_process(tmp, config) as a, gateway_process(tmp, config) as b:
            yield Replicas(a, b, server, namespace, tmp, upstream)


def _client(gateway: RunningProcess, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.base_url + "/v1", api_key=key, max_retries=0, timeout=30)


async def _ask(client: openai.AsyncOpenAI) -> tuple[int, Any]:
    """(200, completion) or (status, the SDK's error) for one chat request."""
    try:
        reply = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": TEXT}])
    except openai.APIStatusError as exc:
        return exc.status_code, exc
    return 200, reply


async def _burst(gateways: list[RunningProcess], key: str, count: int) -> dict[str, list[int]]:
    """`count` concurrent requests spread round-robin over `gateways`; statuses per gateway."""
    clients = [_client(g, key) for g in gateways]
    outcomes = await asyncio.gather(*(_ask(clients[i % len(clients)]) for i in range(count)))
    per: dict[str, list[int]] = {g.base_url: [] for g in gateways}
    for i, (status, result) in enumerate(outcomes):
        per[gateways[i % len(gateways)].base_url].append(status)
        if status == 429:
            _assert_rate_limited(result)
    for client in clients:
        await client.close()
    return per


def _assert_rate_limited(error: openai.APIStatusError) -> None:
    body = error.response.json()["error"]
    assert body["type"] == "rate_limit_error" and body["code"] == "rate_limit_exceeded", body
    assert "20 requests per minute" in body["message"]
    assert 1 <= int(error.response.headers["retry-after"]) <= 60


async def test_two_replicas_admit_exactly_the_rpm_limit(replicas: Replicas) -> None:
    key = new_key(replicas.a, rpm_limit=20)
    for gateway in replicas.both:  # both hold the key before the burst (listing models is not rate limited)
        async with _client(gateway, key) as client:
            assert [m.id async for m in client.models.list()] == ["m"]
    per = await _burst(list(replicas.both), key, 60)
    statuses = [s for replica in per.values() for s in replica]
    assert statuses.count(200) == 20 and statuses.count(429) == 40, per
    assert all(per.values()), "both replicas took part"
    print(
        "rpm 20, 60 concurrent requests over 2 replicas: "
        + "; ".join(f"{url}: sent {len(s)}, accepted {s.count(200)}, refused {s.count(429)}" for url, s in per.items())
    )


def _window_total(replicas: Replicas, key: str, kind: str) -> float:
    client = redis.Redis.from_url(replicas.redis.url)
    try:
        name = f"{replicas.namespace}:limits:{{{key_token(key)}}}:{kind}"
        if kind.startswith("spend"):
            value = client.get(name)
            return float(value) if value is not None else 0.0
        fields = client.hgetall(name)
        per_second = sum(int(v) for k, v in fields.items() if k not in (b"t", b"l"))
        assert int(fields.get(b"t", 0)) == per_second, fields  # the running total matches its buckets
        return float(per_second)
    finally:
        client.close()


def _wait_counted(replicas: Replicas, key: str, kind: str, expected: float) -> None:
    """Until the finished requests' charge (sent behind each response) is in Redis."""
    deadline = time.monotonic() + 30
    while abs(_window_total(replicas, key, kind) - expected) > 1e-9:
        assert time.monotonic() < deadline, f"{kind} of {key_token(key)[:8]} never reached {expected}"
        time.sleep(0.01)


async def _alternate_until_refused(replicas: Replicas, key: str, kind: str, per_request: float) -> list[int]:
    """Sequential requests, A, B, A, ...; each one's charge counted before the next; statuses up to a refusal."""
    clients = [_client(g, key) for g in replicas.both]
    statuses: list[int] = []
    try:
        for i in range(40):
            status, _ = await _ask(clients[i % 2])
            statuses.append(status)
            if status != 200:
                break
            _wait_counted(replicas, key, kind, per_request * statuses.count(200))
    finally:
        for client in clients:
            await client.close()
    return statuses


async def test_two_replicas_share_one_tpm_window(replicas: Replicas) -> None:
    key = new_key(replicas.a, tpm_limit=100)
    statuses = await _alternate_until_refused(replicas, key, "tpm", TOKENS_PER_REQUEST)
    # Admitted while fewer than 100 tokens were counted: 15 requests (98 tokens) then one more reaching 105.
    assert statuses == [200] * 15 + [429], statuses
    assert _window_total(replicas, key, "tpm") == 15 * TOKENS_PER_REQUEST


async def test_a_budget_holds_across_replicas_before_any_spend_reaches_the_database(replicas: Replicas) -> None:
    key = new_key(replicas.a, max_budget=0.02)  # $0.007 a request: 3 requests take it past $0.02
    statuses = await _alternate_until_refused(replicas, key, "spend:0", TOKENS_PER_REQUEST * PRICE)
    assert statuses == [200, 200, 200, 400], statuses
    for gateway in replicas.both:  # both refuse now: neither has flushed spend to the database yet
        status, error = await _ask(_client(gateway, key))
        assert status == 400 and error.response.json()["error"]["code"] == "budget_exceeded"


def _poll_status(gateway: RunningProcess, key: str, wanted: int) -> float:
    """Seconds until a request with `key` gets `wanted` (a 30 s ceiling ends the wait, not a figure under test)."""
    started = time.monotonic()
    body = {"model": "m", "messages": [{"role": "user", "content": TEXT}]}
    while True:
        response = httpx.post(
            gateway.base_url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        if response.status_code == wanted:
            return time.monotonic() - started
        assert time.monotonic() - started < 30, response.text
        time.sleep(0.05)


def test_revocation_and_updates_on_one_replica_reach_the_other(replicas: Replicas) -> None:
    key = new_key(replicas.a)
    _poll_status(replicas.b, key, 200)  # B reads the key from the store on first use
    response = admin(replicas.a, "POST", "/key/update", json={"key": key_token(key), "models": ["other"]})
    assert response.status_code == 200, response.text
    moved = _poll_status(replicas.b, key, 403)
    response = admin(replicas.a, "POST", "/key/delete", json={"keys": [key_token(key)]})
    assert response.status_code == 200, response.text
    revoked = _poll_status(replicas.b, key, 401)
    print(f"key sync every {SYNC_S} s: update seen by B after {moved:.2f} s, revocation after {revoked:.2f} s")


def test_workers_of_one_gateway_share_the_limit(replicas: Replicas, tmp_path: Path) -> None:
    with fake_upstream(tmp_path, "w") as upstream:
        config = _config(upstream, replicas.redis.url, f"w{uuid.uuid4().hex[:8]}")
        with gateway_process(tmp_path, config, extra_env={"INFERSTACK_GATEWAY_WORKERS": "2"}) as gateway:
            key = new_key(gateway, rpm_limit=20)
            statuses = asyncio.run(_burst([gateway], key, 60))[gateway.base_url]
    assert statuses.count(200) == 20 and statuses.count(429) == 40, statuses


def test_redis_away_falls_back_to_per_process_limits_or_fails_closed_as_configured(
    replicas: Replicas, tmp_path: Path
) -> None:
    config = _config(replicas.upstream, replicas.redis.url, replicas.namespace)
    config["limits"]["on_redis_error"] = "closed"
    with gateway_process(tmp_path, config) as closed:  # its own key store
        key = new_key(replicas.a, rpm_limit=1000)
        closed_key, unlimited = new_key(closed, rpm_limit=1000), new_key(closed)
        replicas.redis.stop()
        try:
            _poll_status(replicas.a, key, 200)  # on_redis_error: local (the default) keeps serving
            readiness = httpx.get(replicas.a.base_url + "/health/readiness").json()
            assert readiness["dependencies"]["rate_limits"]["up"] is False, readiness
            metrics = httpx.get(replicas.a.base_url + "/metrics").text
            assert 'inferstack_gateway_dependency_up{dependency="rate_limits"} 0.0' in metrics
            assert 'inferstack_gateway_bounded_limit{name="limits_charges_pending"} 100000.0' in metrics

            status, error = asyncio.run(_ask(_client(closed, closed_key)))  # on_redis_error: closed
            assert status == 503, error
            assert error.response.json()["error"]["code"] == "rate_limiter_unavailable"
            assert error.response.json()["error"]["type"] == "overloaded_error"
            assert error.response.headers["retry-after"] == "1"
            assert asyncio.run(_ask(_client(closed, unlimited)))[0] == 200  # no limit: no Redis needed
        finally:
            replicas.redis.start()
        deadline = time.monotonic() + 30
        while not httpx.get(replicas.a.base_url + "/health/readiness").json()["dependencies"]["rate_limits"]["up"]:
            assert time.monotonic() < deadline
            _poll_status(replicas.a, key, 200)
        _poll_status(closed, closed_key, 200)  # closed mode serves again once Redis answers
