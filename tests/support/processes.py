"""Start real inferstack processes on free loopback ports for tests, and stop them cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class RunningProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_healthy(proc: RunningProcess, path: str = "/health", timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(f"process exited with {proc.process.returncode}:\n{proc.log()[-4000:]}")
        try:
            if httpx.get(proc.base_url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{proc.base_url}{path} not healthy after {timeout} s:\n{proc.log()[-4000:]}")


def stop(proc: RunningProcess, timeout: float = 30.0) -> int:
    if proc.process.poll() is None:
        proc.process.send_signal(signal.SIGTERM)
        try:
            proc.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.process.kill()
            proc.process.wait()
    return proc.process.returncode


@contextmanager
def module_process(
    module: str,
    log_dir: Path,
    args: Sequence[str] = (),
    *,
    env: dict[str, str] | None = None,
    log_name: str | None = None,
) -> Iterator[RunningProcess]:
    """Run `python -m module --port <free port> *args` from the repository root, yielded once /health answers; its
    output goes to `<log_name>-<port>.log` in `log_dir` (by default the module's name)."""
    port = free_port()
    log_path = log_dir / f"{log_name or module.rsplit('.', 1)[-1].replace('_', '-')}-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port), *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env if env is not None else child_env(),
            cwd=REPO_ROOT,
        )
        running = RunningProcess(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
        try:
            wait_healthy(running, "/health", timeout=60)
            yield running
        finally:
            stop(running)


@contextmanager
def inferstack_process(
    args: Sequence[str],
    *,
    log_dir: Path,
    port: int | None = None,
    health_path: str = "/health",
    env: dict[str, str] | None = None,
    wait: bool = True,
    timeout: float = 180.0,
) -> Iterator[RunningProcess]:
    """Run `python -m inferstack <args> --port <free port>` and yield it once healthy."""
    port = port or free_port()
    log_path = log_dir / f"inferstack-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "inferstack", *args, "--port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env or child_env(),
            cwd=REPO_ROOT,
        )
        proc = RunningProcess(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
        try:
            if wait:
                wait_healthy(proc, health_path, timeout)
            yield proc
        finally:
            stop(proc)


@contextmanager
def model_server(log_dir: Path, *extra_args: str, **kwargs: object) -> Iterator[RunningProcess]:
    """The real `inferstack serve` with the packaged SmolLM2 and MiniLM models."""
    with inferstack_process(["serve", *extra_args], log_dir=log_dir, **kwargs) as proc:  # type: ignore[arg-type]
        yield proc
