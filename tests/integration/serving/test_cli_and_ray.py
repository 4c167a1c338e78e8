"""The serve CLI's edges (version, clear failures) and the Ray Serve path with two replicas."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from tests.support.processes import RunningProcess, child_env, inferstack_process

MODEL = "smollm2-135m-instruct"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferstack", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(),
    )


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("inferstack ")


def test_vllm_engine_fails_clearly_without_a_gpu() -> None:
    result = run_cli("serve", "--engine", "vllm", "--port", "0")
    assert result.returncode != 0
    assert "vLLM" in result.stderr and "--engine llamacpp" in result.stderr


def test_missing_model_file_fails_clearly() -> None:
    result = run_cli("serve", "--model", "/nonexistent/model.gguf", "--port", "0")
    assert result.returncode != 0 and "/nonexistent/model.gguf" in result.stderr


def test_invalid_setting_names_the_field() -> None:
    result = run_cli("serve", "--parallel", "0", "--port", "0")
    assert result.returncode == 2 and "serve.parallel" in result.stderr


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    args = [
        "serve",
        "--ray",
        "--replicas",
        "2",
        "--parallel",
        "1",
        "--max-queue",
        "0",
        "--no-embeddings",
        "--ctx-size",
        "1024",
    ]
    with inferstack_process(args, log_dir=tmp_path_factory.mktemp("ray"), timeout=240) as proc:
        yield proc


def _ray_processes(server: RunningProcess) -> list[psutil.Process]:
    """This server's own Ray processes (its descendants), not those of any other Ray on the machine."""
    found = []
    for child in psutil.Process(server.process.pid).children(recursive=True):
        try:
            child.cmdline()
        except psutil.Error:
            continue
        found.append(child)
    return found


@pytest.mark.ray
def test_ray_serve_two_replicas_answer_concurrent_requests(ray_server: RunningProcess) -> None:
    def ask(i: int) -> httpx.Response:
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": f"Say hello number {i}"}],
            "max_tokens": 24,
        }
        return httpx.post(ray_server.base_url + "/v1/chat/completions", json=body, timeout=120)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(ask, range(6)))
    assert [r.status_code for r in responses] == [200] * 6
    assert all(r.json()["choices"][0]["message"]["content"] for r in responses)
    replicas = [p for p in _ray_processes(ray_server) if "ServeReplica" in " ".join(p.cmdline())]
    assert len(replicas) == 2


@pytest.mark.ray
def test_ray_listens_on_loopback_only(ray_server: RunningProcess) -> None:
    ray_pids = {
        p.pid
        for p in _ray_processes(ray_server)
        if any(part in " ".join(p.cmdline()) for part in ("ray::", "raylet", "gcs_server"))
    }
    assert ray_pids
    exposed = [
        c
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
        and c.pid in ray_pids
        and c.laddr.ip not in ("127.0.0.1", "::ffff:127.0.0.1", "::1")
    ]
    assert exposed == []
