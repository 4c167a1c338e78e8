"""Soak: drive one service for a long time at a fixed or the maximum rate, sample it every few seconds, check
at the end that nothing was lost, and write soak.json and soak.png (memory, latency, throughput and descriptors
over time).

Every `--sample` seconds: the service's resident memory, open file descriptors, threads, established TCP
connections and CPU (its process tree, psutil), every gauge in its /metrics (for the gateway: each queue's and
cache's size and bound, requests in flight, usage rows dropped), and the client-side p50/p90/p99/max latency of
the requests that finished in that window. The summary compares RSS at the end of `--warmup` with RSS at the
end (and fits a slope), and the latency of the first windows after warm-up with the last. Targets and what
each checks at the end are described in soak_targets.py (the gateway's spend must equal the clients' cost).

    .venv/bin/python benchmarks/soak.py gateway --duration 1800 [--rate 0] [--concurrency 32] [--out-dir D]
    .venv/bin/python benchmarks/soak.py serve --duration 300 --concurrency 4
    .venv/bin/python benchmarks/soak.py mcp --duration 300 [--baseline-src DIR]
    .venv/bin/python benchmarks/soak.py agent --duration 300 --concurrency 2

`--rate 0` (the default) is the maximum rate: each connection sends its next request when the last is answered.
Outputs go to benchmarks/results/soak-<target>-<time>/ unless `--out-dir` says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from harness import REPO, benchmark_env, source_state, stop_on_sigterm
from soak_load import Load
from soak_plot import write_plot
from soak_sampling import ProcessSampler, load_average, scrape_gauges, window_stats
from soak_targets import SoakTarget, agent_target, gateway_target, mcp_target, serve_target


def _slope_mb_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, in MB per hour."""
    if len(points) < 3:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return 3600 * sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def _median_of(samples: list[dict[str, Any]], key: str) -> float | None:
    values = [s[key] for s in samples if s[key] is not None]
    return round(statistics.median(values), 3) if values else None


def summarise(samples: list[dict[str, Any]], *, warmup_s: float, sample_s: float, target_mb: float) -> dict[str, Any]:
    """Memory growth after warm-up and latency drift, from full sample windows only."""
    full = [s for s in samples if s["interval_s"] >= 0.9 * sample_s]
    after = [s for s in full if s["t_s"] >= warmup_s]
    if not after:
        return {"note": "the run ended before the warm-up did"}
    tenth = max(1, len(after) // 10)
    first, last = after[:tenth], after[-tenth:]
    growth = after[-1]["rss_mb"] - after[0]["rss_mb"]
    return {
        "rss_at_warmup_mb": after[0]["rss_mb"],
        "rss_at_warmup_t_s": after[0]["t_s"],
        "rss_end_mb": after[-1]["rss_mb"],
        "rss_growth_mb": round(growth, 2),
        "rss_max_after_warmup_mb": max(s["rss_mb"] for s in after),
        "rss_slope_mb_per_hour": None
        if (slope := _slope_mb_per_hour([(s["t_s"], s["rss_mb"]) for s in after])) is None
        else round(slope, 2),
        "rss_growth_within_target": growth <= target_mb,
        "open_fds_first_last": [after[0]["open_fds"], after[-1]["open_fds"]],
        "tcp_established_first_last": [after[0]["tcp_established"], after[-1]["tcp_established"]],
        "windows_compared": tenth,
        "latency_first_windows_ms": {q: _median_of(first, f"{q}_ms") for q in ("p50", "p99")},
        "latency_last_windows_ms": {q: _median_of(last, f"{q}_ms") for q in ("p50", "p99")},
        "req_per_s_first_last_windows": [_median_of(first, "req_per_s"), _median_of(last, "req_per_s")],
        "req_per_s_after_warmup": round(
            (after[-1]["requests"] - after[0]["requests"]) / max(1e-9, after[-1]["t_s"] - after[0]["t_s"]), 1
        ),
    }


async def soak(target: SoakTarget, args: argparse.Namespace) -> dict[str, Any]:
    sampler = ProcessSampler(target.watched.process.pid)
    started = time.monotonic()
    load = Load(
        target.shape,
        concurrency=args.concurrency,
        rate=args.rate,
        stop_at=started + args.duration,
        max_requests=args.max_requests,
    )
    runner = asyncio.create_task(load.run())
    samples: list[dict[str, Any]] = []
    last = started
    async with aiohttp.ClientSession() as scraper:
        while not runner.done():
            await asyncio.wait({runner}, timeout=args.sample)
            now = time.monotonic()
            interval, last = now - last, now
            sample: dict[str, Any] = {
                "t_s": round(now - started, 1),
                "interval_s": round(interval, 2),
                "requests": load.totals.ok,
                **window_stats(load.cut_window(), interval),
                **sampler.sample(interval),
                "load_1m": load_average(),
                "gauges": await scrape_gauges(scraper, target.metrics_url),
            }
            samples.append(sample)
            print(
                f"{sample['t_s']:>7.0f}s  {sample['requests']:>10,} ok  {sample['req_per_s'] or 0:>7.0f}/s  "
                f"p50 {sample['p50_ms'] or 0:>7.1f} ms  p99 {sample['p99_ms'] or 0:>8.1f} ms  "
                f"rss {sample['rss_mb']:>7.1f} MB  fds {sample['open_fds']:>4}  load {sample['load_1m']}",
                flush=True,
            )
        runner.result()
        load_s = time.monotonic() - started
        checks = await target.check(load.totals)
        idle_started = time.monotonic()
        await asyncio.sleep(args.sample)
        idle = sampler.sample(time.monotonic() - idle_started)
    return {
        "samples": samples,
        "load_s": round(load_s, 1),
        "checks": checks,
        "after_load": {**idle, "gauges": await _gauges_once(target)},
        "totals": {
            "ok": load.totals.ok,
            "failed": load.totals.failed,
            "failures": dict(load.totals.failures),
            "prompt_tokens": load.totals.prompt_tokens,
            "completion_tokens": load.totals.completion_tokens,
        },
    }


async def _gauges_once(target: SoakTarget) -> dict[str, float]:
    async with aiohttp.ClientSession() as session:
        return await scrape_gauges(session, target.metrics_url)


@contextlib.contextmanager
def started_target(args: argparse.Namespace, workdir: Path) -> Iterator[SoakTarget]:
    if args.target == "gateway":
        with gateway_target(
            workdir,
            workers=args.workers,
            completion_tokens=args.completion_tokens,
            max_pending_rows=args.usage_max_pending_rows,
        ) as target:
            yield target
    elif args.target == "mcp":
        env = benchmark_env()
        if args.baseline_src is not None:
            env["PYTHONPATH"] = str(args.baseline_src.resolve())
        with mcp_target(workdir, env=env) as target:
            yield target
    elif args.target == "serve":
        with serve_target(workdir, max_tokens=args.max_tokens) as target:
            yield target
    else:
        with agent_target(workdir, max_tokens=args.max_tokens) as target:
            yield target


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=("gateway", "serve", "mcp", "agent"))
    parser.add_argument("--duration", type=float, default=300.0, help="Seconds of load [300].")
    parser.add_argument("--rate", type=float, default=0.0, help="Requests per second; 0 is the maximum rate [0].")
    parser.add_argument("--concurrency", type=int, default=None, help="Connections [gateway 32, serve 4, agent 2].")
    parser.add_argument("--max-requests", type=int, default=None, help="Stop after this many requests too.")
    parser.add_argument("--sample", type=float, default=5.0, help="Seconds between samples [5].")
    parser.add_argument("--warmup", type=float, default=60.0, help="RSS growth is measured from here [60 s].")
    parser.add_argument("--target-growth-mb", type=float, default=25.0, help="RSS growth allowed after warm-up.")
    parser.add_argument("--workers", type=int, default=1, help="gateway: worker processes [1].")
    parser.add_argument("--completion-tokens", type=int, default=16, help="gateway: tokens per null answer [16].")
    parser.add_argument("--usage-max-pending-rows", type=int, default=None, help="gateway: the row bound [default].")
    parser.add_argument("--max-tokens", type=int, default=16, help="serve/agent: max_tokens per answer [16].")
    parser.add_argument("--baseline-src", type=Path, default=None, help="mcp: run the server from this src/ tree.")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args()
    if args.concurrency is None:
        args.concurrency = {"gateway": 32, "serve": 4, "mcp": 8, "agent": 2}[args.target]
    if args.out_dir is None:
        args.out_dir = REPO / "benchmarks" / "results" / f"soak-{args.target}-{time.strftime('%Y%m%d-%H%M%S')}"
    return args


def main() -> None:
    args = parse_args()
    stop_on_sigterm()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    environment = {"cpus": os.cpu_count(), "load_average_start": load_average(), **source_state()}
    with tempfile.TemporaryDirectory(prefix=f"soak-{args.target}-") as tmp, started_target(args, Path(tmp)) as target:
        print(
            f"soaking {target.name} at {target.shape.url} for {args.duration:g} s; writing {args.out_dir}", flush=True
        )
        measured = asyncio.run(soak(target, args))
    environment["load_average_end"] = load_average()
    config = {k: v for k, v in vars(args).items() if k not in ("out_dir",) and not isinstance(v, Path)} | {
        "target_growth_mb": args.target_growth_mb,
        "setup": target.setup,
    }
    result = {
        "target": target.name,
        "config": config,
        "environment": environment,
        "summary": summarise(
            measured["samples"], warmup_s=args.warmup, sample_s=args.sample, target_mb=args.target_growth_mb
        ),
        **measured,
    }
    (args.out_dir / "soak.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    write_plot(result, args.out_dir / "soak.png")
    headline = {k: result[k] for k in ("summary", "checks", "totals")}
    print(orjson.dumps(headline, option=orjson.OPT_INDENT_2).decode())
    print(f"wrote {args.out_dir / 'soak.json'} and {args.out_dir / 'soak.png'}")


if __name__ == "__main__":
    main()
