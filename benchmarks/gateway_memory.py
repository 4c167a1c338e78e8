"""Gateway memory under sustained full-speed load: RSS and pending usage over time, and spend checked at the end.

One null upstream (`inferstack.bench.null_server`) behind `inferstack gateway` (one worker; SQLite key store,
or PostgreSQL with `--database-url`). A virtual key with RPM/TPM limits and a budget drives it from
`--concurrency` connections for `--duration` seconds. Every `--sample` seconds: the gateway's RSS,
`usage_rows_pending` and `usage_totals_pending` from `/health`, and requests done. `--stall-db-for S` holds
the SQLite write lock for S seconds from `--stall-db-at` (a database slower than the request rate). At the
end the key's spend (`/key/info`) is compared with the spend the gateway counted in `/metrics`.
`--baseline-src DIR` runs the gateway from another source tree (e.g. `git archive` of the commit before a
change) for a before/after.

    .venv/bin/python benchmarks/gateway_memory.py --duration 90 [--stall-db-for 40] [--baseline-src DIR] [--out F]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil

from harness import Server, benchmark_env, free_port, start_server, stopping, wait_ready

MODEL = "bench-model"
MASTER_KEY = "sk-bench-master-key"
CONFIG = """\
gateway:
  model_list:
    - model_name: {model}
      model: "null"
      api_base: http://127.0.0.1:{port}/v1
      input_cost_per_token: 0.0000001
      output_cost_per_token: 0.0000002
  router: {{health_check_interval_s: 0}}
{database}"""


async def stall_database(path: Path, at_s: float, for_s: float) -> None:
    """Hold SQLite's write lock from `at_s` for `for_s` seconds: the usage writer cannot write meanwhile (a
    slow or unavailable database), while requests keep coming."""
    await asyncio.sleep(at_s)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    print(f"database write-locked for {for_s:g} s", flush=True)
    await asyncio.sleep(for_s)
    conn.execute("COMMIT")
    conn.close()
    print("database released", flush=True)


def rss_mb(server: Server) -> float:
    root = psutil.Process(server.process.pid)
    return sum(p.memory_info().rss for p in (root, *root.children(recursive=True))) / 2**20


async def drive(url: str, key: str, stop_at: float, done: list[int]) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < stop_at:
            async with session.post(url + "/v1/chat/completions", json=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"gateway answered {response.status}: {await response.text()}")
            done[0] += 1


async def measure(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    env = benchmark_env(INFERSTACK_GATEWAY_MASTER_KEY=MASTER_KEY)
    if args.baseline_src is not None:
        env["PYTHONPATH"] = str(args.baseline_src.resolve())
    upstream_port, gateway_port = free_port(), free_port()
    config = run_dir / "config.yaml"
    database = f"  database_url: {args.database_url}\n" if args.database_url else ""
    config.write_text(CONFIG.format(model=MODEL, port=upstream_port, database=database))
    servers: dict[str, Server] = {}
    python = sys.executable
    with stopping(servers):
        servers["upstream"] = start_server(
            "upstream",
            [python, "-m", "inferstack.bench.null_server", "--port", str(upstream_port)],
            upstream_port,
            logs=run_dir,
            cpus=None,
            env=env,
        )
        await wait_ready(servers["upstream"], "/health")
        gateway_argv = [python, "-m", "inferstack", "gateway", "--config", str(config), "--port", str(gateway_port)]
        gateway_argv += ["--data-dir", str(run_dir / "data")]
        gateway = servers["gateway"] = start_server(
            "gateway", gateway_argv, gateway_port, logs=run_dir, cpus=None, env=env
        )
        await wait_ready(gateway, "/health")
        auth = {"Authorization": f"Bearer {MASTER_KEY}"}
        async with aiohttp.ClientSession(headers=auth) as admin:
            key_fields = {"models": [MODEL], "max_budget": 1000, "rpm_limit": 10**8, "tpm_limit": 10**9}
            async with admin.post(gateway.url + "/key/generate", json=key_fields) as response:
                created = await response.json()
                if response.status != 200:
                    raise RuntimeError(f"/key/generate answered {response.status}: {created}")
                key = created["key"]
            done = [0]
            started = time.monotonic()
            clients = [
                asyncio.create_task(drive(gateway.url, key, started + args.duration, done))
                for _ in range(args.concurrency)
            ]
            if args.stall_db_for > 0:
                stall = stall_database(run_dir / "data" / "gateway.db", args.stall_db_at, args.stall_db_for)
                clients.append(asyncio.create_task(stall))
            samples = []
            while not all(c.done() for c in clients):
                await asyncio.sleep(args.sample)
                async with admin.get(gateway.url + "/health") as response:
                    health = await response.json()
                samples.append(
                    {
                        "t_s": round(time.monotonic() - started, 1),
                        "requests": done[0],
                        "rss_mb": round(rss_mb(gateway), 1),
                        "usage_rows_pending": health.get("usage_rows_pending"),
                        "usage_totals_pending": health.get("usage_totals_pending"),
                    }
                )
                print(orjson.dumps(samples[-1]).decode(), flush=True)
            for client in clients:
                client.result()
            await asyncio.sleep(15)  # let the writer drain (a write that waited on the lock retries next tick)
            async with admin.get(gateway.url + "/key/info", params={"key": key}) as response:
                spend = (await response.json())["info"]["spend"]
            async with admin.get(gateway.url + "/metrics") as response:
                metrics = await response.text()
    counted = sum(
        float(line.rpartition(" ")[2])
        for line in metrics.splitlines()
        if line.startswith("inferstack_gateway_spend_usd_total")
    )
    warm = [s for s in samples if s["t_s"] >= args.warmup]
    return {
        "source": str(args.baseline_src or "working tree"),
        "database": "postgresql" if args.database_url else "sqlite",
        "database_stalled": f"{args.stall_db_at:g}+{args.stall_db_for:g} s" if args.stall_db_for else None,
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "requests": done[0],
        "requests_per_s": round(done[0] / args.duration, 1),
        "rss_first_after_warmup_mb": warm[0]["rss_mb"] if warm else None,
        "rss_last_mb": samples[-1]["rss_mb"] if samples else None,
        "max_usage_rows_pending": max((s["usage_rows_pending"] or 0) for s in samples) if samples else None,
        "key_spend_usd": spend,
        "metrics_spend_usd": counted,
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=90.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--sample", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="RSS growth is reported from this time on.")
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument("--stall-db-at", type=float, default=10.0, help="When the SQLite write lock is taken.")
    parser.add_argument("--stall-db-for", type=float, default=0.0, help="How long it is held (0: never).")
    parser.add_argument("--database-url", default=None, help="postgresql://… (an empty database) instead of SQLite.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gateway-memory-") as tmp:
        result = asyncio.run(measure(args, Path(tmp)))
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    if args.out is not None:
        args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
