"""Start the processes a benchmark measures, wait for them, account their CPU, and stop them: one harness for
every script under benchmarks/ (the tests have theirs in tests/support/processes.py).

A `Server` is a child process on a loopback port, optionally pinned to CPUs with `taskset`; `cpu_seconds()`
includes its children (uvicorn may fork). `stop_on_sigterm()` makes SIGTERM unwind like Ctrl-C, so a killed
benchmark still stops the servers it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    cpus: str | None

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and all its children (uvicorn may fork)."""
        try:
            root = psutil.Process(self.process.pid)
            total = 0.0
            for proc in (root, *root.children(recursive=True)):
                times = proc.cpu_times()
                total += times.user + times.system
            return total
        except psutil.NoSuchProcess:
            return 0.0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(name: str, argv: list[str], port: int, *, logs: Path, cpus: str | None, env: dict[str, str]) -> Server:
    command = (["taskset", "-c", cpus] if cpus else []) + argv
    log = logs / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    return Server(name, f"http://127.0.0.1:{port}", process, log, cpus)


async def wait_ready(server: Server, path: str, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited:\n{server.log.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(server.url + path, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.25)
    raise TimeoutError(f"{server.name} not ready after {timeout_s:g} s; log: {server.log}")


def wait_ready_blocking(server: Server, path: str = "/health", timeout_s: float = 300.0) -> None:
    """`wait_ready` for scripts without an event loop."""
    asyncio.run(wait_ready(server, path, timeout_s))


@contextlib.contextmanager
def inferstack_server(
    name: str,
    args: list[str],
    *,
    logs: Path,
    health_path: str = "/health",
    env: dict[str, str] | None = None,
    cpus: str | None = None,
    timeout_s: float = 300.0,
) -> Iterator[Server]:
    """`python -m inferstack <args> --port <free port>`, yielded once `health_path` answers 200, stopped after."""
    port = free_port()
    argv = [sys.executable, "-m", "inferstack", *args, "--port", str(port)]
    server = start_server(name, argv, port, logs=logs, cpus=cpus, env=env or benchmark_env())
    try:
        wait_ready_blocking(server, health_path, timeout_s)
        yield server
    finally:
        server.stop()


def benchmark_env(**extra: str) -> dict[str, str]:
    """The environment for a benchmark's child processes: offline model hubs, unbuffered logs, plus `extra`."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@contextlib.contextmanager
def stopping(servers: Mapping[str, Server]) -> Iterator[None]:
    """Stop every server in `servers` (last started first) when the block ends, however it ends."""
    try:
        yield
    finally:
        for server in reversed(list(servers.values())):
            server.stop()


def source_state() -> dict[str, str]:
    """The commit measured, and any uncommitted changes under src/ (other work may be in progress)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO).stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"), "src_changes": git("status", "--short", "src/")}


def package_version(python: Path, package: str) -> str:
    code = f"from importlib.metadata import version; print(version({package!r}))"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all CPUs)."""
    times = psutil.cpu_times()
    idle = float(times.idle) + float(getattr(times, "iowait", 0.0))
    return float(sum(times)) - idle


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so `finally` blocks stop the servers this run started."""
    signal.signal(signal.SIGTERM, _interrupt)
