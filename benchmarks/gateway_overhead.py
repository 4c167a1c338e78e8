"""What a gateway adds: the upstream directly, `inferstack gateway` and LiteLLM's proxy, side by side, in one run.

One null server (`inferstack.bench.null_server`, an upstream that answers from cached bytes) stands behind both
gateways, which read the same LiteLLM-format config. inferstack runs with a virtual key that has RPM/TPM limits
and a budget, the response cache on (every request a miss: unique prompt, temperature 0) and usage accounting;
LiteLLM runs from its own venv with the master key and no database. Measured with the bench's own client
(`BenchClient`, one pooled aiohttp session per target, on uvloop): c=1 latency, and c=16 requests/s without and
with streaming. Targets alternate in rounds of A B C C B A blocks so drift falls on all alike, and a round in
which other processes took CPU is measured again. Method and figures: gateway_overhead.md.

Two optional targets measure inferstack against itself in the same rounds: `--master-key-target` sends the
same load with the master key (no key limits, budget or key spend: what governance costs), and
`--baseline-src DIR` runs a second inferstack gateway from another source tree (e.g. `git archive` of the
commit before a change) with its own virtual key (what a change bought).

    .venv/bin/python benchmarks/gateway_overhead.py [--out benchmarks/results] [--profile] [--skip-litellm]
        [--master-key-target] [--baseline-src /tmp/before/src]

Process start-up and CPU accounting live in harness.py, the rounds in rounds.py, py-spy in profiling.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from harness import (
    REPO,
    Server,
    benchmark_env,
    free_port,
    package_version,
    source_state,
    start_server,
    stop_on_sigterm,
    stopping,
    wait_ready,
)
from inferstack.bench.event_loop import loop_name, run_async
from inferstack.bench.metrics import percentile
from inferstack.bench.settings import Target
from profiling import hot_spots, markdown_hot_spots, start_py_spy
from rounds import QUIET_CPU, Bench, Phase, UniqueBodies, ratio

MODEL = "bench-model"
MASTER_KEY = "sk-bench-master-key"
# Column order in the report; "inferstack-master" is the inferstack gateway driven with the master key,
# "baseline" a second inferstack gateway run from another source tree.
TARGETS = ("direct", "inferstack", "inferstack-master", "baseline", "litellm")
GATEWAYS = TARGETS[1:]
SERVER_OF = {"direct": "upstream", "inferstack-master": "inferstack"}  # targets answered by another's process
# Issue targets: added c=1 p50 latency, one-worker requests/s, and the multiple of LiteLLM's requests/s.
TARGET_ADDED_P50_MS = 0.5
TARGET_RPS = {"non_stream": 1500.0, "stream": 800.0}
TARGET_RATIO = 10.0
# Each phase runs in rounds of A B C C B A; a round is measured again when others used more CPUs than --noise-limit.
LATENCY_ROUNDS = 10
THROUGHPUT_ROUNDS = 2

CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/null
      api_base: http://127.0.0.1:{upstream_port}/v1
      api_key: os.environ/BENCH_UPSTREAM_KEY
      input_cost_per_token: 0.0000001
      output_cost_per_token: 0.0000002
litellm_settings:
  cache: true
  cache_params:
    type: local
general_settings:
  master_key: os.environ/BENCH_MASTER_KEY
"""


def ensure_litellm_venv(venv: Path, spec: str) -> Path:
    """The venv's `litellm` executable, creating the venv (outside the project's .venv) when missing."""
    executable = venv / "bin" / "litellm"
    if executable.exists():
        return executable
    print(f"creating {venv} and installing {spec!r} (a few minutes) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", spec], check=True)
    return executable


async def self_reported_overhead(url: str, key: str, header: str, requests: int, run_tag: str) -> dict[str, float]:
    """What a gateway says it added (its own overhead header), c=1, non-streaming."""
    bodies = UniqueBodies(MODEL, stream=False, run_tag=run_tag)
    values = []
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        for _ in range(requests):
            async with session.post(url + "/v1/chat/completions", data=bodies.next(), headers=headers) as response:
                await response.read()
                if response.status == 200 and header in response.headers:
                    values.append(float(response.headers[header]))
    ordered = sorted(values)
    if not ordered:
        return {}
    return {"count": len(ordered), "p50_ms": percentile(ordered, 50), "p99_ms": percentile(ordered, 99)}


# ---------------------------------------------------------------- checks on the inferstack gateway


async def create_virtual_key(gateway_url: str) -> str:
    payload = {"models": [MODEL], "max_budget": 1000, "rpm_limit": 10_000_000, "tpm_limit": 1_000_000_000}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            gateway_url + "/key/generate", json=payload, headers={"Authorization": f"Bearer {MASTER_KEY}"}
        ) as response,
    ):
        body = await response.json()
        if response.status != 200:
            raise RuntimeError(f"/key/generate answered {response.status}: {body}")
        key: str = body["key"]
        return key


async def inferstack_state(gateway_url: str, key: str) -> dict[str, Any]:
    """Cache hits/misses and requests from /metrics, and the key's spend: proof the paths ran."""
    async with aiohttp.ClientSession() as session:
        async with session.get(gateway_url + "/metrics") as response:
            text = await response.text()
        auth = {"Authorization": f"Bearer {MASTER_KEY}"}
        async with session.get(gateway_url + "/key/info", params={"key": key}, headers=auth) as response:
            info = await response.json()
    counters: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("inferstack_gateway_cache_total", "inferstack_gateway_requests_total")):
            name, _, value = line.rpartition(" ")
            counters[name] = float(value)
    return {
        "cache_hits": counters.get('inferstack_gateway_cache_total{result="hit"}', 0.0),
        "cache_misses": counters.get('inferstack_gateway_cache_total{result="miss"}', 0.0),
        "requests_by_status": {k.partition("{")[2].rstrip("}"): v for k, v in counters.items() if "requests" in k},
        "key_spend_usd": info.get("info", {}).get("spend"),
    }


async def probe_headers(url: str, key: str) -> dict[str, str]:
    body = UniqueBodies(MODEL, stream=False, run_tag="probe").next()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/v1/chat/completions", data=body, headers=headers) as response,
    ):
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
        return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("x-inferstack")}


# ---------------------------------------------------------------- report


def build_summary(results: dict[str, Phase]) -> dict[str, Any]:
    latency = {n: m.summary() for n, m in results["latency_c1"].targets.items()}
    out: dict[str, Any] = {"latency_c1": latency, "throughput": {}, "noise": {k: p.noise() for k, p in results.items()}}
    direct = latency["direct"]
    for gateway in GATEWAYS:
        if gateway in latency:
            latency[gateway]["added_p50_ms"] = latency[gateway]["p50_ms"] - direct["p50_ms"]
            latency[gateway]["added_p99_ms"] = latency[gateway]["p99_ms"] - direct["p99_ms"]
    for mode in ("non_stream", "stream"):
        out["throughput"][mode] = {n: m.summary() for n, m in results[f"{mode}_c16"].targets.items()}
    if "litellm" in latency:
        out["ratios_inferstack_over_litellm"] = {
            "added_p50_ms": ratio(latency["inferstack"]["added_p50_ms"], latency["litellm"]["added_p50_ms"]),
            "added_p99_ms": ratio(latency["inferstack"]["added_p99_ms"], latency["litellm"]["added_p99_ms"]),
            **{
                f"{mode}_{metric}": ratio(
                    out["throughput"][mode]["inferstack"][metric], out["throughput"][mode]["litellm"][metric]
                )
                for mode in ("non_stream", "stream")
                for metric in ("requests_per_s", "requests_per_cpu_second")
            },
        }
    thr = out["throughput"]
    out["client_ceiling"] = {
        mode: {
            "requests_per_s": thr[mode]["direct"]["requests_per_s"],
            "client_cpu_share": thr[mode]["direct"]["client_cpu_share"],
            "share_used_by": {
                n: thr[mode][n]["requests_per_s"] / thr[mode]["direct"]["requests_per_s"]
                for n in GATEWAYS
                if n in thr[mode]
            },
        }
        for mode in ("non_stream", "stream")
    }
    return out


def _f(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    lat = summary["latency_c1"]
    thr = summary["throughput"]
    names = [n for n in TARGETS if n in lat]
    c = f"c={meta['options']['concurrency']}"
    lines = [
        f"Run {meta['started_at']} — {meta['machine']}; pinning: {meta['pinning']}",
        f"load average before {meta['load_before']}, after {meta['load_after']}; LiteLLM "
        f"{meta.get('litellm_version', '-')}; source {meta['source']['commit']}"
        + (" with uncommitted changes under src/" if meta["source"]["src_changes"] else ""),
        "",
        "| | " + " | ".join(names) + (" | inferstack / LiteLLM |" if "litellm" in lat else " |"),
        "| --- | " + " | ".join("---:" for _ in names) + (" | ---: |" if "litellm" in lat else " |"),
    ]
    ratios = summary.get("ratios_inferstack_over_litellm", {})

    def row(label: str, values: list[str], ratio_value: float | None = None) -> None:
        tail = "" if "litellm" not in lat else f" {_f(ratio_value, 3)}x |" if ratio_value is not None else "  |"
        lines.append(f"| {label} | " + " | ".join(values) + " |" + tail)

    row(f"c=1 p50 ms ({lat['direct']['ok']} req each)", [_f(lat[n]["p50_ms"], 3) for n in names])
    row("c=1 p99 ms", [_f(lat[n]["p99_ms"], 3) for n in names])
    row(
        "c=1 added p50 ms (vs direct)",
        ["–", *[_f(lat[n]["added_p50_ms"], 3) for n in names[1:]]],
        ratios.get("added_p50_ms"),
    )
    row(
        "c=1 added p99 ms (vs direct)",
        ["–", *[_f(lat[n]["added_p99_ms"], 3) for n in names[1:]]],
        ratios.get("added_p99_ms"),
    )
    row(
        "server CPU per request, c=1 (µs)",
        [_f(lat[names[0]]["server_cpu_us_per_request"], 0) + " (upstream)"]
        + [_f(lat[n]["server_cpu_us_per_request"], 0) for n in names[1:]],
    )
    for mode, label in (("non_stream", f"{c} non-streaming req/s"), ("stream", f"{c} streaming req/s")):
        row(label, [_f(thr[mode][n]["requests_per_s"], 0) for n in names], ratios.get(f"{mode}_requests_per_s"))
    for mode, label in (("non_stream", "non-streaming"), ("stream", "streaming")):
        cells = []
        for n in names:
            shares = thr[mode][n]["server_cpu_share"]
            own = shares.get(SERVER_OF.get(n, n), 0.0)
            cell = f"client {thr[mode][n]['client_cpu_share']:.0%}, upstream {shares.get('upstream', 0):.0%}"
            cells.append(cell if n == "direct" else f"{cell}, gateway {own:.0%}")
        row(f"CPU during {c} {label}", cells)
    for mode, label in (("non_stream", "non-streaming"), ("stream", "streaming")):
        cpu_us = [thr[mode][n]["server_cpu_us_per_request"] for n in names]
        row(
            f"server CPU per request, {c} {label} (µs)",
            [_f(cpu_us[0], 0) + " (upstream)", *[_f(v, 0) for v in cpu_us[1:]]],
            ratio(*(thr[mode][n]["server_cpu_us_per_request"] for n in ("inferstack", "litellm")))
            if "litellm" in names
            else None,
        )
    for mode, label in (("non_stream", "non-streaming"), ("stream", "streaming")):
        capacity = [thr[mode][n]["requests_per_cpu_second"] for n in names]
        row(
            f"req/s per CPU core, {c} {label} (from CPU time)",
            [_f(capacity[0], 0) + " (upstream)", *[_f(v, 0) for v in capacity[1:]]],
            ratios.get(f"{mode}_requests_per_cpu_second"),
        )
    for mode, label in (("non_stream", "non-streaming"), ("stream", "streaming")):
        row(f"other processes' CPU, {c} {label}", [f"{thr[mode][n]['other_processes_cpu_share']:.0%}" for n in names])
    errors = {
        f"{phase}/{n}": m["errors"]
        for phase, group in (("c1", lat), *((f"c16-{k}", v) for k, v in thr.items()))
        for n, m in group.items()
        if m["errors"]
    }
    lines += ["", f"errors: {errors or 'none'}"]
    noise = "; ".join(
        f"{phase} {n['rounds']} kept, {n['rounds_measured_again']} measured again, "
        f"others' CPUs per kept round max {max(n['other_processes_cpus_per_round'], default=0):.2f}"
        for phase, n in summary["noise"].items()
    )
    lines.append(f"rounds: {noise}")
    ceiling = "; ".join(
        f"{mode} {c['requests_per_s']:,.0f} req/s with the client at {c['client_cpu_share']:.0%} CPU "
        f"(gateways used " + ", ".join(f"{n} {share:.0%}" for n, share in c["share_used_by"].items()) + " of it)"
        for mode, c in summary["client_ceiling"].items()
    )
    lines.append(f"client ceiling (direct at {c}): {ceiling}")
    if "inferstack" in lat:
        inf = lat["inferstack"]
        checks = [
            f"added p50 {inf['added_p50_ms']:.3f} ms <= {TARGET_ADDED_P50_MS} ms: "
            f"{'PASS' if inf['added_p50_ms'] <= TARGET_ADDED_P50_MS else 'FAIL'}",
            *(
                f"{mode} {thr[mode]['inferstack']['requests_per_s']:,.0f} req/s >= {target:,.0f}: "
                f"{'PASS' if thr[mode]['inferstack']['requests_per_s'] >= target else 'FAIL'}"
                for mode, target in TARGET_RPS.items()
            ),
            *(
                f"{mode} {value:.1f}x LiteLLM >= {TARGET_RATIO:g}x: {'PASS' if value >= TARGET_RATIO else 'FAIL'}"
                for mode in ("non_stream", "stream")
                if (value := ratios.get(f"{mode}_requests_per_s")) is not None
            ),
        ]
        lines += ["", "targets: " + "; ".join(checks)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


@dataclass(frozen=True)
class Options:
    out: Path
    litellm_venv: Path
    litellm_spec: str
    latency_requests: int
    duration_s: float
    concurrency: int
    warmup: int
    pin: bool
    skip_litellm: bool
    master_key_target: bool
    baseline_src: Path | None
    profile: bool
    overhead_requests: int
    quiet_wait_s: float
    noise_limit: float
    retry_budget_s: float


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--litellm-venv", type=Path, default=Path("/work/bench-venvs/litellm"))
    parser.add_argument("--litellm-spec", default="litellm[proxy]", help="What to pip install when creating it.")
    parser.add_argument("--latency-requests", type=int, default=2000, help="c=1 requests per target.")
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds per target per throughput mode.")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=200, help="Unmeasured requests per target and phase.")
    parser.add_argument("--no-pin", action="store_true", help="Do not pin processes to CPUs.")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument(
        "--master-key-target",
        action="store_true",
        help="Also drive the inferstack gateway with the master key (no key limits or budget) in the same rounds.",
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="A source tree (its src/ folder) to run a second inferstack gateway from, measured alongside.",
    )
    parser.add_argument("--profile", action="store_true", help="Also py-spy the inferstack gateway under load.")
    parser.add_argument("--overhead-requests", type=int, default=500, help="c=1 requests for self-reported overhead.")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help=f"Seconds to wait, before each block, for other processes to use < {QUIET_CPU} CPU (0: never wait).",
    )
    parser.add_argument(
        "--noise-limit",
        type=float,
        default=0.3,
        help="Measure a round again when other processes used more CPUs than this meanwhile.",
    )
    parser.add_argument(
        "--retry-budget", type=float, default=240.0, help="Seconds per phase that rounds may be measured again."
    )
    args = parser.parse_args(argv)
    return Options(
        out=args.out,
        litellm_venv=args.litellm_venv,
        litellm_spec=args.litellm_spec,
        latency_requests=args.latency_requests,
        duration_s=args.duration,
        concurrency=args.concurrency,
        warmup=args.warmup,
        pin=not args.no_pin and (os.cpu_count() or 1) >= 2,
        skip_litellm=args.skip_litellm,
        master_key_target=args.master_key_target,
        baseline_src=args.baseline_src,
        profile=args.profile,
        overhead_requests=args.overhead_requests,
        quiet_wait_s=args.quiet_wait,
        noise_limit=args.noise_limit,
        retry_budget_s=args.retry_budget,
    )


@dataclass
class Stack:
    """The three processes of a run and how to reach them."""

    servers: dict[str, Server]
    config: Path
    data_dir: Path
    meta: dict[str, Any]


async def start_stack(options: Options, run_dir: Path, stack: Stack) -> None:
    """Upstream, then inferstack (and the baseline gateway), then LiteLLM (created in its venv when missing)."""
    logs = run_dir / "logs"
    logs.mkdir(parents=True)
    # The client and the upstream share CPU 0; each gateway gets CPU 1 to itself (only one is loaded at a time).
    client_cpus, gateway_cpus = ("0", "1") if options.pin else (None, None)
    env = benchmark_env(BENCH_UPSTREAM_KEY="none", BENCH_MASTER_KEY=MASTER_KEY)
    ports = {name: free_port() for name in ("upstream", *GATEWAYS)}
    stack.meta["ports"] = ports
    stack.config.write_text(CONFIG.format(model=MODEL, upstream_port=ports["upstream"]))
    python = sys.executable
    upstream = [python, "-m", "inferstack.bench.null_server", "--port", str(ports["upstream"])]
    stack.servers["upstream"] = start_server(
        "upstream", upstream, ports["upstream"], logs=logs, cpus=client_cpus, env=env
    )
    await wait_ready(stack.servers["upstream"], "/health")
    gateways = {"inferstack": env}
    if options.baseline_src is not None:
        # The same interpreter and packages, but `inferstack` imported from the other tree (PYTHONPATH comes first).
        gateways["baseline"] = {**env, "PYTHONPATH": str(options.baseline_src.resolve())}
    for name, gateway_env in gateways.items():
        data_dir = stack.data_dir / name
        gateway = [python, "-m", "inferstack", "gateway", "--config", str(stack.config), "--port", str(ports[name])]
        gateway += ["--data-dir", str(data_dir)]
        stack.servers[name] = start_server(name, gateway, ports[name], logs=logs, cpus=gateway_cpus, env=gateway_env)
        await wait_ready(stack.servers[name], "/health")
    if options.skip_litellm:
        return
    executable = ensure_litellm_venv(options.litellm_venv, options.litellm_spec)
    stack.meta["litellm_version"] = package_version(options.litellm_venv / "bin" / "python", "litellm")
    litellm_env = {
        **env,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the cost map from GitHub
        "LITELLM_LOG": "ERROR",
        "LITELLM_MODE": "PRODUCTION",
    }
    litellm = [str(executable), "--config", str(stack.config), "--host", "127.0.0.1", "--port", str(ports["litellm"])]
    litellm += ["--num_workers", "1"]
    stack.servers["litellm"] = start_server(
        "litellm", litellm, ports["litellm"], logs=logs, cpus=gateway_cpus, env=litellm_env
    )
    await wait_ready(stack.servers["litellm"], "/health/liveliness")


async def run_phases(options: Options, bench: Bench) -> dict[str, Phase]:
    names = list(bench.targets)
    results = {
        "latency_c1": await bench.phase(
            "c=1 latency",
            names,
            stream=False,
            concurrency=1,
            rounds=LATENCY_ROUNDS,
            requests=options.latency_requests,
            warmup=options.warmup,
        )
    }
    for mode, stream in (("non_stream", False), ("stream", True)):
        results[f"{mode}_c16"] = await bench.phase(
            f"c={options.concurrency} {mode}",
            names,
            stream=stream,
            concurrency=options.concurrency,
            rounds=THROUGHPUT_ROUNDS,
            duration_s=options.duration_s,
            warmup=options.warmup,
        )
    return results


async def profile_inferstack(options: Options, bench: Bench, run_dir: Path) -> dict[str, Any]:
    """py-spy the gateway through an extra, unmeasured c=16 block per mode; its hot spots by share of samples."""
    profiles: dict[str, Any] = {}
    pid = bench.servers["inferstack"].process.pid
    seconds = max(5.0, options.duration_s)
    for mode, stream in (("non_stream", False), ("stream", True)):
        raw = run_dir / f"inferstack-{mode}.collapsed"
        if start_py_spy(pid, seconds, raw) is None:
            break
        await asyncio.sleep(0.5)
        bodies = bench.bodies("inferstack", stream=stream)
        block = await bench.block("inferstack", bodies, options.concurrency, requests=None, duration_s=seconds - 1)
        await asyncio.sleep(2.0)
        profiles[mode] = {
            "requests_per_s_while_sampled": len(block.records) / block.wall_s,
            "file": raw.name,
            **(hot_spots(raw) if raw.exists() else {}),
        }
    return profiles


async def bench_targets(options: Options, servers: dict[str, Server], meta: dict[str, Any]) -> dict[str, Target]:
    """Targets in report order; every inferstack gateway gets its own virtual key with limits and a budget."""
    targets = {"direct": Target(label="direct", url=servers["upstream"].url, model="null")}
    for name in ("inferstack", "baseline"):
        if name in servers:
            key = await create_virtual_key(servers[name].url)
            meta[f"{name}_probe_headers"] = await probe_headers(servers[name].url, key)
            targets[name] = Target(label=name, url=servers[name].url, model=MODEL, api_key=key)
    if options.master_key_target:
        url = servers["inferstack"].url
        targets["inferstack-master"] = Target(label="inferstack-master", url=url, model=MODEL, api_key=MASTER_KEY)
    if "litellm" in servers:
        targets["litellm"] = Target(label="litellm", url=servers["litellm"].url, model=MODEL, api_key=MASTER_KEY)
    return {name: targets[name] for name in TARGETS if name in targets}


async def measure(options: Options, run_dir: Path) -> dict[str, Any]:
    if options.pin:
        os.sched_setaffinity(0, {0})
    stack = Stack({}, run_dir / "gateway-config.yaml", Path(tempfile.mkdtemp(prefix="gateway-bench-")), {})
    servers = stack.servers
    try:
        with stopping(servers):
            await start_stack(options, run_dir, stack)
            targets = await bench_targets(options, servers, stack.meta)
            run_tag = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            async with Bench(
                servers,
                targets,
                run_tag,
                server_of=SERVER_OF,
                quiet_wait_s=options.quiet_wait_s,
                noise_limit=options.noise_limit,
                retry_budget_s=options.retry_budget_s,
            ) as bench:
                results = await run_phases(options, bench)
                virtual_key = targets["inferstack"].api_key
                assert virtual_key is not None
                inferstack_url = servers["inferstack"].url
                state = await inferstack_state(inferstack_url, virtual_key.get_secret_value())
                n = options.overhead_requests
                overhead = {
                    "inferstack": await self_reported_overhead(
                        inferstack_url,
                        virtual_key.get_secret_value(),
                        "x-inferstack-overhead-ms",
                        n,
                        f"{run_tag}-own-i",
                    )
                }
                if "litellm" in servers:
                    overhead["litellm"] = await self_reported_overhead(
                        servers["litellm"].url, MASTER_KEY, "x-litellm-overhead-duration-ms", n, f"{run_tag}-own-l"
                    )
                profiles = await profile_inferstack(options, bench, run_dir) if options.profile else {}
    finally:
        shutil.rmtree(stack.data_dir, ignore_errors=True)
    return {
        "summary": build_summary(results),
        "inferstack_state": state,
        "self_reported_overhead_c1": overhead,
        "profiles": profiles,
        "meta": stack.meta,
    }


def main(argv: Sequence[str] | None = None) -> None:
    stop_on_sigterm()
    options = parse_args(argv)
    started = datetime.now(UTC)
    run_dir = options.out / f"gateway-overhead-{started.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True)
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    source = source_state()
    result = run_async(measure(options, run_dir))
    meta: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}",
        "pinning": "client + upstream on CPU 0, gateway on CPU 1" if options.pin else "none",
        "event_loop": loop_name(),
        "aiohttp": version("aiohttp"),
        "load_before": load_before,
        "source": source,
        "load_after": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        **result.pop("meta"),
    }
    result["meta"] = meta
    table = markdown(result["summary"], meta)
    own = result["self_reported_overhead_c1"]
    table += "\nself-reported overhead at c=1 (the gateway's own header): " + "; ".join(
        f"{n} p50 {v.get('p50_ms', 0):.3f} ms, p99 {v.get('p99_ms', 0):.3f} ms" for n, v in own.items() if v
    )
    table += f"\ninferstack state after the run: {result['inferstack_state']}\n"
    for mode, profile in result["profiles"].items():
        if profile.get("self"):
            table += "\n" + markdown_hot_spots(
                profile, f"inferstack gateway, c={options.concurrency} {mode} ({profile['file']})"
            )
    (run_dir / "results.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    (run_dir / "results.md").write_text(table)
    print()
    print(table)
    print(f"written to {run_dir}")


if __name__ == "__main__":
    main()
