"""How fast can the bench client go, and what limits it? Variants of `inferstack bench calibrate`.

Runs the bench's own client and runner flat out against the null server and prints a Markdown table:
server in its own process or in the client's event loop, uvloop or plain asyncio, and several
concurrencies, each for non-streaming and 16-chunk streaming answers. Results: bench_client_ceiling.md.

    .venv/bin/python benchmarks/bench_client_ceiling.py [--duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from inferstack.bench.calibrate import null_server_process
from inferstack.bench.client import BenchClient
from inferstack.bench.event_loop import run_async
from inferstack.bench.load_level import LevelSpec, run_level
from inferstack.bench.metrics import summarise
from inferstack.bench.null_server import NullProtocol, ResponseCache
from inferstack.bench.settings import Slo, Target, Timeouts, WorkloadSpec
from inferstack.bench.workload import Prompt, Workload

STREAM_TOKENS = 16


async def drive(url: str, *, stream: bool, concurrency: int, duration_s: float) -> tuple[float, float]:
    """Requests/s and client CPU share for one mode against the null server at `url`."""
    bodies = Workload(
        [Prompt("calibrate", (("user", "Say hello."),))], WorkloadSpec(stream=stream, output_tokens=STREAM_TOKENS)
    ).bodies_for("null")
    stop = asyncio.Event()
    async with BenchClient(Target(label="null", url=url, model="null"), Timeouts()) as client:
        await run_level(client, bodies, LevelSpec("concurrency", concurrency, concurrency * 20), stop=stop)
        cpu = time.process_time()
        run = await run_level(
            client, bodies, LevelSpec("concurrency", concurrency, None, duration_s=duration_s), stop=stop
        )
        cpu_share = (time.process_time() - cpu) / run.duration_s
    metrics = summarise(run.records, run.duration_s, Slo())
    assert metrics.successes == metrics.requests, metrics.errors
    return metrics.request_throughput, cpu_share


async def separate_process(stream: bool, concurrency: int, duration_s: float) -> tuple[float, float]:
    async with null_server_process(STREAM_TOKENS) as server:
        return await drive(server.url, stream=stream, concurrency=concurrency, duration_s=duration_s)


async def same_loop(stream: bool, concurrency: int, duration_s: float) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    cache = ResponseCache(STREAM_TOKENS)
    server = await loop.create_server(lambda: NullProtocol(cache), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        return await drive(f"http://127.0.0.1:{port}", stream=stream, concurrency=concurrency, duration_s=duration_s)


Variant = Callable[[bool, int, float], Coroutine[Any, Any, tuple[float, float]]]
Runner = Callable[[Coroutine[Any, Any, tuple[float, float]]], tuple[float, float]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    cases: list[tuple[str, Variant, Runner, int]] = [
        ("separate process, uvloop (= calibrate)", separate_process, run_async, 32),
        ("separate process, uvloop", separate_process, run_async, 8),
        ("separate process, uvloop", separate_process, run_async, 128),
        ("separate process, asyncio", separate_process, asyncio.run, 32),
        ("same event loop, uvloop", same_loop, run_async, 32),
    ]
    print("| server, client loop | in flight | non-stream req/s (client CPU) | stream x16 req/s (client CPU) |")
    print("| --- | ---: | ---: | ---: |")
    for name, variant, runner, concurrency in cases:
        cells = []
        for stream in (False, True):
            rps, cpu = runner(variant(stream, concurrency, args.duration))
            cells.append(f"{rps:,.0f} ({cpu:.0%})")
        print(f"| {name} | {concurrency} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
