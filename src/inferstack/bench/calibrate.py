"""The client's own ceiling: the most requests/s this bench client can drive, measured against the null
server in a separate process (so the two do not share one event loop), and cached in a small JSON file.

A run compares the rate it achieves with this ceiling and warns when the client, not the target, may be
what limits the numbers.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson

from inferstack.bench.client import BenchClient
from inferstack.bench.errors import CalibrationError
from inferstack.bench.event_loop import loop_name
from inferstack.bench.load_level import LevelSpec, run_level
from inferstack.bench.metrics import summarise
from inferstack.bench.settings import Slo, Target, Timeouts, WorkloadSpec
from inferstack.bench.workload import Prompt, Workload

_SERVER_START_TIMEOUT_S = 30.0
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class ModeCeiling:
    requests_per_s: float
    requests: int
    errors: int
    client_cpu: float
    server_cpu: float | None


@dataclass(frozen=True, slots=True)
class ClientCeiling:
    """Requests/s the client reached against a server that answers instantly, per response mode."""

    non_stream: ModeCeiling
    stream: ModeCeiling
    stream_tokens: int
    concurrency: int
    duration_s: float
    measured_at: str
    python: str
    aiohttp: str
    event_loop: str
    cpu_count: int

    def for_mode(self, *, stream: bool) -> float:
        return (self.stream if stream else self.non_stream).requests_per_s

    def seconds_per_request(self, *, stream: bool, chunks: float) -> float:
        """Client CPU-seconds one request costs, by a linear model fitted to the two measurements: a fixed
        cost per request (the non-streaming figure) plus a cost per stream chunk (what streaming
        `stream_tokens` chunks added), so long streams are judged by their chunk rate, not only req/s."""
        fixed = 1 / self.non_stream.requests_per_s
        if not stream:
            return fixed
        per_chunk = max(0.0, (1 / self.stream.requests_per_s - fixed) / self.stream_tokens)
        return fixed + per_chunk * chunks

    def share_used(self, requests_per_s: float, *, stream: bool, chunks: float) -> float:
        """The fraction of this client's capacity a level used."""
        return requests_per_s * self.seconds_per_request(stream=stream, chunks=chunks)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def save_ceiling(path: Path, ceiling: ClientCeiling) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(ceiling.to_dict(), option=orjson.OPT_INDENT_2))


def load_ceiling(path: Path) -> ClientCeiling | None:
    """The cached ceiling, or None when the file is missing or from an older format."""
    try:
        data = orjson.loads(path.read_bytes())
        return ClientCeiling(
            **{
                **data,
                "non_stream": ModeCeiling(**data["non_stream"]),
                "stream": ModeCeiling(**data["stream"]),
            }
        )
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None


def _process_cpu_s(pid: int) -> float | None:
    """User+system CPU seconds of a process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


@dataclass(frozen=True, slots=True)
class NullServerProcess:
    url: str
    pid: int


@asynccontextmanager
async def null_server_process(completion_tokens: int) -> AsyncIterator[NullServerProcess]:
    """Start `python -m inferstack.bench.null_server` on a free loopback port and stop it afterwards."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "inferstack.bench.null_server",
        "--port",
        "0",
        "--completion-tokens",
        str(completion_tokens),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), _SERVER_START_TIMEOUT_S)
        except TimeoutError:
            raise CalibrationError("the null server did not start in time") from None
        text = line.decode().strip()
        if not text.startswith("listening on "):
            raise CalibrationError(f"the null server failed to start (exit code {process.returncode})")
        yield NullServerProcess(url=text.removeprefix("listening on "), pid=process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _measure_mode(
    server: NullServerProcess, *, stream: bool, tokens: int, concurrency: int, duration_s: float
) -> ModeCeiling:
    spec = WorkloadSpec(stream=stream, output_tokens=tokens)
    bodies = Workload([Prompt("calibrate", (("user", "Say hello."),))], spec).bodies_for("null")
    target = Target(label="null-server", url=server.url, model="null")
    stop = asyncio.Event()
    async with BenchClient(target, Timeouts(connect_s=5, request_s=30)) as client:
        await run_level(client, bodies, LevelSpec("concurrency", concurrency, concurrency * 20), stop=stop)
        server_cpu_before = _process_cpu_s(server.pid)
        client_cpu_before = time.process_time()
        run = await run_level(
            client, bodies, LevelSpec("concurrency", concurrency, None, duration_s=duration_s), stop=stop
        )
        client_cpu = (time.process_time() - client_cpu_before) / run.duration_s
        server_cpu_after = _process_cpu_s(server.pid)
    metrics = summarise(run.records, run.duration_s, Slo())
    if metrics.successes == 0:
        raise CalibrationError(f"no request to the null server succeeded: {metrics.error_examples}")
    server_cpu = (
        None
        if server_cpu_before is None or server_cpu_after is None
        else (server_cpu_after - server_cpu_before) / run.duration_s
    )
    return ModeCeiling(
        requests_per_s=metrics.request_throughput,
        requests=metrics.requests,
        errors=metrics.requests - metrics.successes,
        client_cpu=client_cpu,
        server_cpu=server_cpu,
    )


async def measure_ceiling(*, duration_s: float = 5.0, concurrency: int = 32, stream_tokens: int = 16) -> ClientCeiling:
    """Drive the null server flat out, first without and then with streaming, through the bench's own
    client and runner (the very code a run uses), and report requests/s for each."""
    async with null_server_process(stream_tokens) as server:
        non_stream = await _measure_mode(
            server, stream=False, tokens=stream_tokens, concurrency=concurrency, duration_s=duration_s
        )
        stream = await _measure_mode(
            server, stream=True, tokens=stream_tokens, concurrency=concurrency, duration_s=duration_s
        )
    return ClientCeiling(
        non_stream=non_stream,
        stream=stream,
        stream_tokens=stream_tokens,
        concurrency=concurrency,
        duration_s=duration_s,
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        python=platform.python_version(),
        aiohttp=aiohttp.__version__,
        event_loop=loop_name(),
        cpu_count=os.cpu_count() or 1,
    )
