"""Start fake upstreams (support/fake_upstream.py), real Redis and the real `inferstack gateway` for gateway tests."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.fake_upstream import control, upstream_stats
from tests.support.fake_upstream import fake_upstream_process as fake_upstream
from tests.support.processes import (
    REPO_ROOT,
    RunningProcess,
    child_env,
    free_port,
    inferstack_process,
    stop,
    wait_healthy,
)

MASTER_KEY = "sk-test-master-key"


@contextmanager
def redis_server(log_dir: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: run `make test-services` (make test does)"
    port = free_port()
    log_path = log_dir / f"redis-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            import redis

            client = redis.Redis(port=port)
            deadline = time.monotonic() + 20
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def database_url() -> str:
    path = REPO_ROOT / ".test-database-url"
    assert path.exists(), "PostgreSQL is not prepared: run `make test-services` (make test does)"
    return path.read_text().strip()


@contextmanager
def postgres_schema(prefix: str = "t") -> Iterator[str]:
    """A URL of the test database whose search_path is a fresh schema, dropped afterwards: tests that share the
    database never see each other's tables."""
    import psycopg

    base = database_url()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def write_config(path: Path, gateway: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"gateway": gateway}))
    return path


@contextmanager
def gateway_process(
    tmp: Path,
    config: dict[str, Any] | Path,
    *,
    master_key: str | None = MASTER_KEY,
    extra_env: dict[str, str] | None = None,
) -> Iterator[RunningProcess]:
    config_path = config if isinstance(config, Path) else write_config(tmp / "gateway.yaml", config)
    env = child_env(**(extra_env or {}))
    if master_key:
        env["INFERSTACK_GATEWAY_MASTER_KEY"] = master_key
    with inferstack_process(
        ["gateway", "--config", str(config_path), "--data-dir", str(tmp / "data")],
        log_dir=tmp,
        health_path="/health/readiness",
        env=env,
        timeout=60,
    ) as proc:
        yield proc


def deployment(name: str, upstream: RunningProcess, **extra: Any) -> dict[str, Any]:
    return {"model_name": name, "model": "fake", "api_base": upstream.base_url + "/v1", **extra}


def admin(gateway: RunningProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    return httpx.request(method, gateway.base_url + path, headers=headers, timeout=30, **kwargs)


def new_key(gateway: RunningProcess, **fields: Any) -> str:
    response = admin(gateway, "POST", "/key/generate", json=fields)
    assert response.status_code == 200, response.text
    key: str = response.json()["key"]
    return key


__all__ = [
    "MASTER_KEY",
    "RunningProcess",
    "admin",
    "control",
    "database_url",
    "deployment",
    "fake_upstream",
    "gateway_process",
    "new_key",
    "redis_server",
    "stop",
    "upstream_stats",
    "wait_healthy",
    "write_config",
]


@contextmanager
def console_gateway_process(
    tmp: Path, *, token_delay_ms: float, extra_env: dict[str, str] | None = None
) -> Iterator[RunningProcess]:
    """A gateway in front of two fake upstreams (chat models `alpha` priced, `beta` free, and an embeddings model
    `all-minilm-l6-v2`) writing traces to `tmp/traces.db`
    with their content captured (so the console can replay model calls)."""
    with (
        fake_upstream(tmp, "a", token_delay_ms=token_delay_ms) as a,
        fake_upstream(tmp, "b", token_delay_ms=token_delay_ms) as b,
    ):
        config = {
            "model_list": [
                deployment("alpha", a, input_cost_per_token=0.000001, output_cost_per_token=0.000002),
                deployment("beta", b),
                # An embeddings deployment named to sort first, as `up`'s all-minilm-l6-v2 does.
                deployment("all-minilm-l6-v2", a, mode="embedding"),
            ]
        }
        traces = {
            "INFERSTACK_OBSERVABILITY_EXPORTER": "store",
            "INFERSTACK_OBSERVABILITY_STORE__PATH": str(tmp / "traces.db"),
            "INFERSTACK_OBSERVABILITY_CAPTURE_CONTENT": "true",
            **(extra_env or {}),
        }
        with gateway_process(tmp, config, extra_env=traces) as gateway:
            yield gateway
