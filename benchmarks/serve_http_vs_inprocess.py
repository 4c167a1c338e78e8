"""Model server overhead: chat tokens/s and TTFT through the HTTP API vs the same engine in-process.

Both run in one process tree at the same time (the server as a subprocess, the engine here) and the
measurements alternate round by round, so drift on the machine hits both sides alike. Generation
is greedy with a fixed seed, so both sides produce the same tokens.

    .venv/bin/python benchmarks/serve_http_vs_inprocess.py [--rounds 3] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from inferstack.serving.engines.base import ChatTurn, SamplingParams
from inferstack.serving.engines.llamacpp import LlamaCppConfig, LlamaCppEngine
from inferstack.serving.model_files import resolve_gguf

PROMPT = "Write a detailed essay about the history of computing, from the abacus to modern GPUs."
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Sample:
    tokens: int
    seconds: float
    ttft: float


async def inprocess_one(engine: LlamaCppEngine, max_tokens: int) -> Sample:
    start = time.perf_counter()
    prompt = await engine.prepare_chat([ChatTurn("user", PROMPT)])
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, seed=1)
    first = 0.0
    tokens = 0
    async for chunk in engine.generate(prompt, params):
        if chunk.text and not first:
            first = time.perf_counter() - start
        if chunk.completion_tokens is not None:
            tokens = chunk.completion_tokens
    return Sample(tokens, time.perf_counter() - start, first)


async def http_one(session: aiohttp.ClientSession, url: str, max_tokens: int) -> Sample:
    body = {
        "model": "smollm2-135m-instruct",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": 1,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start = time.perf_counter()
    first = 0.0
    tokens = 0
    async with session.post(url + "/v1/chat/completions", json=body) as response:
        async for raw in response.content:
            if not raw.startswith(b"data: {"):
                continue
            event = orjson.loads(raw[6:])
            if event["choices"] and event["choices"][0]["delta"].get("content") and not first:
                first = time.perf_counter() - start
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
    return Sample(tokens, time.perf_counter() - start, first)


async def level(run_one, concurrency: int, requests: int) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    """Aggregate tokens/s over `requests` requests with `concurrency` in flight, and each TTFT."""
    queue = list(range(requests))
    samples: list[Sample] = []

    async def worker() -> None:
        while queue:
            queue.pop()
            samples.append(await run_one())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return sum(s.tokens for s in samples) / wall, [s.ttft for s in samples]


def start_server(port: int, parallel: int, ctx: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inferstack",
            "serve",
            "--port",
            str(port),
            "--parallel",
            str(parallel),
            "--ctx-size",
            str(ctx),
            "--no-embeddings",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--port", type=int, default=18181)
    args = parser.parse_args()
    parallel, ctx = 4, 2048
    path, model_id = resolve_gguf(None)
    engine = LlamaCppEngine(LlamaCppConfig(model_path=path, model_id=model_id, ctx_size=ctx, parallel=parallel))
    await engine.start()
    server = start_server(args.port, parallel, ctx)
    url = f"http://127.0.0.1:{args.port}"
    results: dict[str, list[float]] = {k: [] for k in ("inproc_c1", "http_c1", "inproc_c4", "http_c4")}
    ttfts: dict[str, list[float]] = {"inproc": [], "http": []}
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                try:
                    async with session.get(url + "/health") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            for runner in (lambda: inprocess_one(engine, 8), lambda: http_one(session, url, 8)):
                await level(runner, 1, 2)  # warm-up both paths
            for _ in range(args.rounds):
                for name, conc, run_one in (
                    ("inproc_c1", 1, lambda: inprocess_one(engine, args.max_tokens)),
                    ("http_c1", 1, lambda: http_one(session, url, args.max_tokens)),
                    ("inproc_c4", 4, lambda: inprocess_one(engine, args.max_tokens)),
                    ("http_c4", 4, lambda: http_one(session, url, args.max_tokens)),
                ):
                    rate, ttft = await level(run_one, conc, args.requests if conc > 1 else args.requests // 2)
                    results[name].append(rate)
                    if conc == 1:
                        ttfts["inproc" if name.startswith("inproc") else "http"].extend(ttft)
    finally:
        server.terminate()
        server.wait()
        await engine.close()
    med = {k: statistics.median(v) for k, v in results.items()}
    ttft_in = statistics.median(ttfts["inproc"]) * 1000
    ttft_http = statistics.median(ttfts["http"]) * 1000
    print(
        f"tokens/s  c=1: in-process {med['inproc_c1']:.1f}  http {med['http_c1']:.1f}  "
        f"ratio {med['http_c1'] / med['inproc_c1']:.3f}"
    )
    print(
        f"tokens/s  c=4: in-process {med['inproc_c4']:.1f}  http {med['http_c4']:.1f}  "
        f"ratio {med['http_c4'] / med['inproc_c4']:.3f}"
    )
    print(f"aggregate c=4 / c=1 over HTTP: {med['http_c4'] / med['http_c1']:.2f}x")
    print(f"TTFT p50 c=1: in-process {ttft_in:.2f} ms  http {ttft_http:.2f} ms  overhead {ttft_http - ttft_in:.2f} ms")
    print("per-round tokens/s:", {k: [round(x, 1) for x in v] for k, v in results.items()})


if __name__ == "__main__":
    asyncio.run(main())
