"""What tracing a request's upstream attempt costs the gateway, in process: CPU per request through `ProxyService`
and the in-process fake upstream, with tracing off, on (spans go to a null exporter, so export is not counted) and
on with `capture_content`, under a SERVER span as the middleware opens one. `--path stream` (the default) sends
streamed requests (a 19-block stream: role, 16 tokens, finish reason, usage); `--path json` non-streamed ones (one
JSON reply of the same 16 tokens, its finish reason and usage). Each figure is the best of `--rounds` child
processes (the machine is shared, so the fastest round is the one least disturbed); with `--baseline-src DIR` the
same is measured for another source tree in alternating order, and the table gives the ratios.

    .venv/bin/python benchmarks/stream_span_cost.py [--path json] [--requests 1000] [--rounds 5] \
        [--baseline-src /tmp/before/src]

Figures are for this machine, not thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODES = ("off", "on", "capture")
PATHS = ("stream", "json")
TOKENS = 16


def _chunks() -> list[dict[str, Any]]:
    role = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    tokens = [
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": f" word{i}"}}], "usage": None}
        for i in range(TOKENS)
    ]
    finish = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
    usage = {"id": "c", "model": "m", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": TOKENS}}
    return [role, *tokens, finish, usage]


def _reply() -> dict[str, Any]:
    message = {"role": "assistant", "content": "".join(f" word{i}" for i in range(TOKENS))}
    choice = {"index": 0, "message": message, "finish_reason": "length"}
    usage = {"prompt_tokens": 5, "completion_tokens": TOKENS, "total_tokens": 5 + TOKENS}
    return {"id": "c", "object": "chat.completion", "model": "m", "choices": [choice], "usage": usage}


async def _measure(mode: str, requests: int, path: str) -> float:
    """CPU µs per request in this process (this tree's `inferstack`), best of three runs."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
    from tests.unit.gateway.proxy_harness import chat_body, proxy_under_test

    from inferstack.gateway.upstreams.fake import FakeAnswer, UpstreamRequest
    from inferstack.observability import tracing

    class NullExporter(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    if mode != "off":
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
        tracing.install_provider(provider, capture=mode == "capture")
    streamed = path == "stream"
    answer = FakeAnswer.stream(_chunks()) if streamed else FakeAnswer.json(_reply())

    def handler(request: UpstreamRequest) -> FakeAnswer:
        return answer

    with tempfile.TemporaryDirectory() as tmp:
        async with proxy_under_test(Path(tmp), handler) as proxy:
            proxy.service.streams.attempts.tracing = mode != "off"
            tracer = trace.get_tracer("benchmark")
            body = chat_body("hi", stream=streamed)

            async def one() -> None:
                with tracer.start_as_current_span("POST /v1/chat/completions"):
                    result = await proxy.service.handle("chat", body, "Bearer sk-test-master")
                    if not streamed:
                        return
                    events = getattr(result, "events")  # noqa: B009 - a ProxyStream in every tree measured
                    async for _ in events:
                        pass
                    closing = getattr(result, "aclose", None)  # trees before ProxyStream.aclose close the events
                    await (closing() if closing is not None else events.aclose())

            for _ in range(300):
                await one()
            best = float("inf")
            for _ in range(3):
                started = time.process_time()
                for _ in range(requests):
                    await one()
                best = min(best, (time.process_time() - started) / requests * 1e6)
    return best


def _child(tree: Path, mode: str, requests: int, path: str) -> float:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{REPO}", "PYTHONHASHSEED": "0"}
    command = [sys.executable, __file__, "--child", mode, "--requests", str(requests), "--path", path]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", choices=PATHS, default="stream", help="Streamed or non-streamed (JSON) requests.")
    parser.add_argument("--requests", type=int, default=1000, help="Requests per measurement.")
    parser.add_argument("--rounds", type=int, default=5, help="Child processes per tree and mode (best one kept).")
    parser.add_argument("--baseline-src", type=Path, help="Another tree's src/ folder, measured alongside.")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(f"{asyncio.run(_measure(args.child, args.requests, args.path)):.2f}")
        return
    trees = {"this tree": REPO / "src"}
    if args.baseline_src is not None:
        trees["baseline"] = args.baseline_src.resolve()
    best: dict[tuple[str, str], float] = {}
    for round_number in range(args.rounds):
        order = list(trees.items()) if round_number % 2 == 0 else list(reversed(trees.items()))
        for name, tree in order:
            for mode in MODES:
                value = _child(tree, mode, args.requests, args.path)
                best[name, mode] = min(best.get((name, mode), float("inf")), value)
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    what = f"streamed request ({TOKENS + 3} SSE blocks)" if args.path == "stream" else f"JSON request ({TOKENS} tokens)"
    print(f"CPU µs per {what}, best of {args.rounds} rounds x 3 x {args.requests}")
    print("| tree | off | on | on, capture_content |\n| --- | ---: | ---: | ---: |")
    for name in trees:
        print(f"| {name} | " + " | ".join(f"{best[name, mode]:.1f}" for mode in MODES) + " |")
    if "baseline" in trees:
        ratios = " | ".join(f"{best['this tree', m] / best['baseline', m]:.2f}" for m in MODES)
        print(f"| this tree / baseline | {ratios} |")


if __name__ == "__main__":
    main()
