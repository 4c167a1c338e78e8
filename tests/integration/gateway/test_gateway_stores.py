"""Redis response cache with a real redis-server; keys and spend in a real PostgreSQL; the `keys` CLI."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from inferstack.stack.config_file import load_stack_config, write_effective
from tests.support.gateway import (
    MASTER_KEY,
    RunningProcess,
    admin,
    deployment,
    fake_upstream,
    gateway_process,
    new_key,
    postgres_schema,
    redis_server,
    upstream_stats,
)
from tests.support.processes import REPO_ROOT, child_env, free_port, inferstack_process


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    with fake_upstream(tmp_path_factory.mktemp("store-upstream"), "u") as proc:
        yield proc


def _chat(gateway: RunningProcess, key: str, text: str, **extra: Any) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(
        gateway.base_url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def test_redis_cache_is_shared_across_gateway_restarts(tmp_path: Path, upstream: RunningProcess) -> None:
    with redis_server(tmp_path) as redis_url:
        config = {
            "model_list": [deployment("m", upstream)],
            "router": {"health_check_interval_s": 0},
            "cache": {"enabled": True, "backend": "redis", "redis_url": redis_url, "ttl_s": 60},
        }
        text = f"cached {uuid.uuid4().hex}"
        before = upstream_stats(upstream)["requests"]
        with gateway_process(tmp_path, config) as gateway:
            assert _chat(gateway, MASTER_KEY, text, temperature=0).headers["x-inferstack-cache"] == "miss"
            assert _chat(gateway, MASTER_KEY, text, temperature=0).headers["x-inferstack-cache"] == "hit"
        with gateway_process(tmp_path, config) as gateway:
            again = _chat(gateway, MASTER_KEY, text, temperature=0)
            assert again.headers["x-inferstack-cache"] == "hit"
            assert again.json()["choices"][0]["message"]["content"] == f"[u] {text}"
        assert upstream_stats(upstream)["requests"] == before + 1
        import redis

        assert any(k.startswith(b"inferstack:response:") for k in redis.Redis.from_url(redis_url).keys("*"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema per test inside the test database, dropped afterwards."""
    with postgres_schema("t") as url:
        yield url


def test_postgres_key_store_keeps_keys_and_spend(tmp_path: Path, upstream: RunningProcess, postgres_url: str) -> None:
    config = {
        "model_list": [deployment("m", upstream, input_cost_per_token=0.01, output_cost_per_token=0.01)],
        "router": {"health_check_interval_s": 0},
        "database_url": postgres_url,
        "usage_flush_interval_s": 0.2,
    }
    with gateway_process(tmp_path, config) as gateway:
        key = new_key(gateway, key_alias="pg", max_budget=10)
        assert _chat(gateway, key, "one two").status_code == 200
        spent = admin(gateway, "GET", "/key/info", params={"key": "pg"}).json()["info"]["spend"]
        assert spent == pytest.approx(0.05)
    with psycopg.connect(postgres_url) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
        assert names[0] == "0001_virtual_keys"
        stored = conn.execute("SELECT token, spend FROM virtual_keys").fetchall()
        assert len(stored) == 1 and stored[0][1] == pytest.approx(0.05)
        assert key not in str(stored), "only the digest is stored"
    with gateway_process(tmp_path, config) as gateway:
        assert _chat(gateway, key, "again").status_code == 200
        logs = admin(gateway, "GET", "/spend/logs", params={"api_key": "pg"}).json()
        assert len(logs) == 2


def _keys_cli(*args: str, data_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The keys CLI against a standalone gateway's store (`inferstack gateway --data-dir DIR`)."""
    return subprocess.run(
        [sys.executable, "-m", "inferstack", "keys", *args, "--gateway-data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=child_env(**(env or {})),
        cwd=REPO_ROOT,
        timeout=60,
    )


def test_keys_cli_create_list_revoke_reaches_running_gateway(tmp_path: Path, upstream: RunningProcess) -> None:
    config = {
        "model_list": [deployment("m", upstream)],
        "router": {"health_check_interval_s": 0},
        "key_sync_interval_s": 0.2,
    }
    with gateway_process(tmp_path, config) as gateway:
        created = _keys_cli("create", "--alias", "cli", "--models", "m", "--rpm", "100", data_dir=tmp_path / "data")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert key.startswith("sk-") and "cannot be shown again" in created.stderr
        assert f"key store {tmp_path / 'data' / 'gateway.db'} (standalone gateway)" in created.stderr
        assert _chat(gateway, key, "from cli").status_code == 200
        listed = _keys_cli("list", "--json", data_dir=tmp_path / "data")
        assert '"key_alias":"cli"' in listed.stdout and key not in listed.stdout
        revoked = _keys_cli("revoke", "cli", data_dir=tmp_path / "data")
        assert revoked.returncode == 0, revoked.stderr
        deadline = time.monotonic() + 10
        while _chat(gateway, key, "still?").status_code != 401:
            assert time.monotonic() < deadline, "revocation never reached the running gateway"
            time.sleep(0.1)
        missing = _keys_cli("revoke", "no-such-key", data_dir=tmp_path / "data")
        assert missing.returncode == 1 and "no such active key" in missing.stderr


def test_keys_cli_uses_the_stack_gateways_store(tmp_path: Path, upstream: RunningProcess) -> None:
    """Without --data-dir the CLI finds the store the way `ask`/`status` find the stack, and the gateway `up`
    starts (from the effective config, data dir <data_dir>/gateway) accepts the key it creates."""
    data_dir = tmp_path / "stack-data"
    stack_file = tmp_path / "inferstack.yaml"
    stack_file.write_text(
        yaml.safe_dump(
            {
                "stack": {"data_dir": str(data_dir), "ports": {"gateway": free_port(), "agent": free_port()}},
                "gateway": {
                    "model_list": [deployment("m", upstream)],
                    "router": {"health_check_interval_s": 0},
                    "key_sync_interval_s": 0.2,
                },
            }
        )
    )
    loaded = load_stack_config(stack_file, overrides={})
    effective = write_effective(loaded, data_dir / "effective.yaml")

    def keys(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "inferstack", "keys", *args, "--config", str(stack_file)],
            capture_output=True,
            text=True,
            env=child_env(INFERSTACK_GATEWAY_MASTER_KEY=MASTER_KEY),
            cwd=tmp_path,
            timeout=60,
        )

    env = child_env(INFERSTACK_GATEWAY_MASTER_KEY=MASTER_KEY)
    port = loaded.stack.ports.gateway
    with inferstack_process(
        ["gateway", "--config", str(effective)], log_dir=tmp_path, port=port, health_path="/health/readiness", env=env
    ) as gateway:
        created = keys("create", "--alias", "mine", "--max-budget", "1")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert f"key store {data_dir.resolve() / 'gateway' / 'gateway.db'}" in created.stderr
        assert "never be reached" in created.stderr, "the stack's model here is free: the budget cannot trigger"
        assert _chat(gateway, key, "hello").status_code == 200
        listed = keys("list", "--json")
        assert '"key_alias":"mine"' in listed.stdout
        assert keys("revoke", "mine").returncode == 0
        deadline = time.monotonic() + 10
        while _chat(gateway, key, "still?").status_code != 401:
            assert time.monotonic() < deadline, "revocation never reached the stack's gateway"
            time.sleep(0.1)
    assert not (tmp_path / ".inferstack").exists(), "no second store appears in the working directory"


def test_keys_cli_never_creates_a_store_silently(tmp_path: Path) -> None:
    def keys(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "inferstack", "keys", *args],
            capture_output=True,
            text=True,
            env=child_env(),
            cwd=tmp_path,
            timeout=60,
        )

    # ./inferstack.yaml only so that a stack someone runs on the default agent port is not taken for ours.
    (tmp_path / "inferstack.yaml").write_text(yaml.safe_dump({"stack": {"ports": {"agent": free_port()}}}))
    store = tmp_path / ".inferstack" / "gateway" / "gateway.db"
    listed = keys("list")
    assert listed.returncode == 1 and f"no key store at {store}" in listed.stderr and not store.exists()
    created = keys("create", "--alias", "first")
    assert created.returncode == 0 and f"creating a new key store at {store}" in created.stderr
    assert store.exists() and keys("list").returncode == 0
    # The old meaning of --data-dir (the gateway's own directory) is recognised and pointed at.
    old = keys("list", "--data-dir", str(tmp_path / ".inferstack" / "gateway"))
    assert old.returncode == 1 and "--gateway-data-dir" in old.stderr


def test_invalid_gateway_config_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("gateway:\n  model_list:\n    - {model_name: m, model: x, api_base: ftp://nope}\n")
    result = subprocess.run(
        [sys.executable, "-m", "inferstack", "gateway", "--config", str(path)],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 2 and "gateway.model_list.0.api_base" in result.stderr
    litellm = tmp_path / "litellm.yaml"
    litellm.write_text("model_list:\n  - model_name: m\n    litellm_params: {model: bedrock/claude}\n")
    result = subprocess.run(
        [sys.executable, "-m", "inferstack", "gateway", "--config", str(litellm)],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 2 and "provider 'bedrock/' is not supported" in result.stderr


def test_upstream_calls_are_traced(tmp_path: Path, upstream: RunningProcess) -> None:
    config = {"model_list": [deployment("m", upstream)], "router": {"health_check_interval_s": 0}, "tracing": "console"}
    with gateway_process(tmp_path, config) as gateway:
        assert _chat(gateway, MASTER_KEY, "trace me").status_code == 200
    log = gateway.log()
    assert '"name": "upstream m#0"' in log and '"inferstack.deployment": "m#0"' in log
