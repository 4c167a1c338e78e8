"""What tracing costs the gateway: the same gateway with tracing off and on, side by side, in one run.

One null upstream (`inferstack.bench.null_server`) stands behind two `inferstack gateway` processes reading the
same LiteLLM-format config with the master key. "off" has no exporter (the default: no provider, no middleware
layer); "on" traces every request (sample ratio 1.0) and exports OTLP/HTTP protobuf to the local trace store's
receiver (`inferstack trace serve`, a separate process, so export work shows in the gateway's CPU but storage
does not). Both are driven by the bench's own client in rounds of A B B A: c=1 latency and c=16 requests/s.
Reported as ratios on/off: p50 latency, CPU per request, requests/s.

    .venv/bin/python benchmarks/tracing_overhead.py [--out benchmarks/results] [--latency-requests 2000]
        [--duration-s 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import REPO, Server, benchmark_env, free_port, start_server, stop_on_sigterm, stopping, wait_ready
from inferstack.bench.event_loop import run_async
from inferstack.bench.settings import Target
from rounds import Bench, Phase, ratio

MODEL = "bench-model"
MASTER_KEY = "sk-bench-master-key"
TARGETS = ("off", "on")
CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/null
      api_base: http://127.0.0.1:{upstream_port}/v1
      api_key: os.environ/BENCH_UPSTREAM_KEY
general_settings:
  master_key: os.environ/BENCH_MASTER_KEY
"""


async def start(run_dir: Path, servers: dict[str, Server]) -> Path:
    logs = run_dir / "logs"
    logs.mkdir(parents=True)
    env = benchmark_env(BENCH_UPSTREAM_KEY="none", BENCH_MASTER_KEY=MASTER_KEY)
    ports = {name: free_port() for name in ("upstream", "store", *TARGETS)}
    config = run_dir / "gateway.yaml"
    config.write_text(CONFIG.format(model=MODEL, upstream_port=ports["upstream"]))
    python = sys.executable
    upstream = [python, "-m", "inferstack.bench.null_server", "--port", str(ports["upstream"])]
    servers["upstream"] = start_server("upstream", upstream, ports["upstream"], logs=logs, cpus=None, env=env)
    store_db = run_dir / "traces.db"
    receiver = [python, "-m", "inferstack", "trace", "serve", "--store", str(store_db), "--port", str(ports["store"])]
    servers["store"] = start_server("store", receiver, ports["store"], logs=logs, cpus=None, env=env)
    await wait_ready(servers["upstream"], "/health")
    await wait_ready(servers["store"], "/health")
    tracing_env = {
        "off": env,
        "on": {
            **env,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{ports['store']}/v1/traces",
        },
    }
    data = Path(tempfile.mkdtemp(prefix="tracing-bench-"))
    for name in TARGETS:
        gateway = [python, "-m", "inferstack", "gateway", "--config", str(config), "--port", str(ports[name])]
        gateway += ["--data-dir", str(data / name)]
        servers[name] = start_server(name, gateway, ports[name], logs=logs, cpus=None, env=tracing_env[name])
        await wait_ready(servers[name], "/health")
    return data


def summarise(results: dict[str, Phase]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for phase_name, phase in results.items():
        off, on = phase.targets["off"].summary(), phase.targets["on"].summary()
        summary[phase_name] = {
            "off": off,
            "on": on,
            "p50_ratio_on_off": ratio(on.get("p50_ms"), off.get("p50_ms")),
            "added_p50_ms": (on["p50_ms"] - off["p50_ms"]) if on.get("p50_ms") and off.get("p50_ms") else None,
            "cpu_per_request_ratio_on_off": ratio(on["server_cpu_us_per_request"], off["server_cpu_us_per_request"]),
            "added_cpu_us_per_request": (
                on["server_cpu_us_per_request"] - off["server_cpu_us_per_request"]
                if on["server_cpu_us_per_request"] and off["server_cpu_us_per_request"]
                else None
            ),
            "requests_per_s_ratio_on_off": ratio(on["requests_per_s"], off["requests_per_s"]),
            "noise": phase.noise(),
        }
    return summary


async def measure(options: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    servers: dict[str, Server] = {}
    data: Path | None = None
    try:
        with stopping(servers):
            data = await start(run_dir, servers)
            targets = {
                name: Target(label=name, url=servers[name].url, model=MODEL, api_key=MASTER_KEY) for name in TARGETS
            }
            tag = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            async with Bench(
                servers, targets, tag, server_of={}, quiet_wait_s=5.0, noise_limit=0.5, retry_budget_s=60.0
            ) as bench:
                results = {
                    "latency_c1": await bench.phase(
                        "c=1 latency",
                        list(TARGETS),
                        stream=False,
                        concurrency=1,
                        rounds=6,
                        requests=options.latency_requests,
                        warmup=100,
                    ),
                    "non_stream_c16": await bench.phase(
                        "c=16 non-stream",
                        list(TARGETS),
                        stream=False,
                        concurrency=16,
                        rounds=2,
                        duration_s=options.duration_s,
                        warmup=100,
                    ),
                }
            stored = json.loads((await _get(servers["store"].url + "/api/traces?limit=1")).decode() or "{}").get(
                "data", []
            )
    finally:
        if data is not None:
            shutil.rmtree(data, ignore_errors=True)
    return {"summary": summarise(results), "store_received_traces": bool(stored)}


async def _get(url: str) -> bytes:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.read()


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        "| phase | p50 off ms | p50 on ms | p50 on/off | CPU µs/req off | on | CPU on/off | req/s on/off |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for phase, row in summary.items():
        off, on = row["off"], row["on"]
        lines.append(
            f"| {phase} | {off.get('p50_ms', 0):.3f} | {on.get('p50_ms', 0):.3f} | {row['p50_ratio_on_off']:.3f} "
            f"| {off['server_cpu_us_per_request']:.0f} | {on['server_cpu_us_per_request']:.0f} "
            f"| {row['cpu_per_request_ratio_on_off']:.3f} | {row['requests_per_s_ratio_on_off']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--latency-requests", type=int, default=2000)
    parser.add_argument("--duration-s", type=float, default=10.0)
    options = parser.parse_args(argv)
    run_dir = options.out / f"tracing-overhead-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True)
    result = run_async(measure(options, run_dir))
    result["command"] = " ".join([Path(sys.executable).name, *sys.argv])
    (run_dir / "result.json").write_text(json.dumps(result, indent=2, default=str))
    table = markdown(result["summary"])
    (run_dir / "result.md").write_text(table)
    print(table)
    print(f"store received traces: {result['store_received_traces']}; results in {run_dir}")


if __name__ == "__main__":
    main()
