"""What a gateway adds: the upstream directly, `inferstack gateway` and LiteLLM's proxy, side by side, in one run.

One null server (`inferstack.bench.null_server`, an upstream that answers from cached bytes) stands behind both
gateways, which read the same LiteLLM-format config. inferstack runs with a virtual key that has RPM/TPM limits
and a budget, the response cache on (every request a miss: unique prompt, temperature 0) and usage accounting;
LiteLLM runs from its own venv with the master key and no database. Measured with the bench's own client
(`BenchClient`, one pooled aiohttp session per target, on uvloop): c=1 latency, and c=16 requests/s without and
with streaming. Targets alternate in rounds of A B C C B A blocks so drift falls on all alike, and a round in
which other processes took CPU is measured again. Method and figures: gateway_overhead.md.

    .venv/bin/python benchmarks/gateway_overhead.py [--out benchmarks/results] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil

from inferstack.bench.client import BenchClient
from inferstack.bench.event_loop import loop_name, run_async
from inferstack.bench.metrics import percentile
from inferstack.bench.records import RequestRecord
from inferstack.bench.settings import Target, Timeouts

REPO = Path(__file__).resolve().parents[1]
MODEL = "bench-model"
MASTER_KEY = "sk-bench-master-key"
COMPLETION_TOKENS = 16
TARGETS = ("direct", "inferstack", "litellm")
GATEWAYS = ("inferstack", "litellm")
# Issue targets: added c=1 p50 latency, one-worker requests/s, and the multiple of LiteLLM's requests/s.
TARGET_ADDED_P50_MS = 0.5
TARGET_RPS = {"non_stream": 1500.0, "stream": 800.0}
TARGET_RATIO = 10.0
# Before each measured block, wait for a second in which other processes used less than this many CPUs.
QUIET_CPU = 0.2
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


# ---------------------------------------------------------------- processes


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


def ensure_litellm_venv(venv: Path, spec: str) -> Path:
    """The venv's `litellm` executable, creating the venv (outside the project's .venv) when missing."""
    executable = venv / "bin" / "litellm"
    if executable.exists():
        return executable
    print(f"creating {venv} and installing {spec!r} (a few minutes) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", spec], check=True)
    return executable


def source_state() -> dict[str, str]:
    """The commit measured, and any uncommitted changes under src/ (other work may be in progress)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO).stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"), "src_changes": git("status", "--short", "src/")}


def package_version(python: Path, package: str) -> str:
    code = f"from importlib.metadata import version; print(version({package!r}))"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


# ---------------------------------------------------------------- load


class UniqueBodies:
    """Chat bodies whose prompt carries a run-wide counter, so no response cache can ever answer one."""

    def __init__(self, model: str, *, stream: bool, run_tag: str) -> None:
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": "\x00 Name one benefit of an inference gateway."}],
            "max_tokens": COMPLETION_TOKENS,
            "temperature": 0,
        }
        if stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        self.head, _, self.tail = orjson.dumps(body).partition(b"\\u0000")
        self.stream = stream
        self.run_tag = run_tag.encode()
        self.sent = 0

    def next(self) -> bytes:
        self.sent += 1
        return self.head + self.run_tag + b"-" + str(self.sent).encode() + b":" + self.tail


@dataclass
class Block:
    """One target's share of a phase: client records plus the CPU each process spent meanwhile."""

    records: list[RequestRecord]
    wall_s: float
    client_cpu_s: float
    server_cpu_s: dict[str, float]
    others_cpu_s: float


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all CPUs)."""
    times = psutil.cpu_times()
    idle = float(times.idle) + float(getattr(times, "iowait", 0.0))
    return float(sum(times)) - idle


async def closed_loop(
    client: BenchClient, bodies: UniqueBodies, concurrency: int, *, requests: int | None, duration_s: float | None
) -> tuple[list[RequestRecord], float]:
    records: list[RequestRecord] = []
    in_flight = [0]
    deadline = None if duration_s is None else time.perf_counter() + duration_s

    async def worker() -> None:
        while True:
            if requests is not None and len(records) + in_flight[0] >= requests:
                return
            if deadline is not None and time.perf_counter() >= deadline:
                return
            in_flight[0] += 1
            record = await client.send(bodies.next(), stream=bodies.stream)
            in_flight[0] -= 1
            records.append(record)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return records, time.perf_counter() - started


@dataclass
class Phase:
    """Per target results of one phase, and the noise (other processes' CPUs) of each round."""

    targets: dict[str, Measured]
    kept_noise: list[float] = field(default_factory=list)
    discarded_noise: list[float] = field(default_factory=list)
    unquiet_starts: int = 0

    def noise(self) -> dict[str, Any]:
        return {
            "rounds": len(self.kept_noise),
            "other_processes_cpus_per_round": [round(x, 3) for x in self.kept_noise],
            "rounds_measured_again": len(self.discarded_noise),
            "rounds_started_without_a_quiet_second": self.unquiet_starts,
        }


@dataclass
class Measured:
    """A phase's pooled result for one target."""

    target: str
    requests: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    latencies_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: dict[str, float] = field(default_factory=dict)
    others_cpu_s: float = 0.0

    def add(self, block: Block) -> None:
        self.requests += len(block.records)
        for record in block.records:
            if record.ok:
                self.latencies_s.append(record.end - record.start)
            else:
                self.errors[record.error or "?"] += 1
        self.wall_s += block.wall_s
        self.client_cpu_s += block.client_cpu_s
        self.others_cpu_s += block.others_cpu_s
        for name, seconds in block.server_cpu_s.items():
            self.server_cpu_s[name] = self.server_cpu_s.get(name, 0.0) + seconds

    def server_cpu_us_per_request(self) -> float | None:
        """CPU the process answering the client spent per answered request (the upstream's for direct)."""
        ok = len(self.latencies_s)
        own = self.server_cpu_s.get(self.target, 0.0)
        return own / ok * 1e6 if ok else None

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_s)
        ms = {f"p{p}_ms": percentile(ordered, p) * 1000 for p in (50, 90, 99)} if ordered else {}
        return {
            "requests": self.requests,
            "ok": len(ordered),
            "errors": dict(self.errors),
            "requests_per_s": len(ordered) / self.wall_s if self.wall_s else 0.0,
            "mean_ms": sum(ordered) / len(ordered) * 1000 if ordered else None,
            **ms,
            "wall_s": self.wall_s,
            "client_cpu_share": self.client_cpu_s / self.wall_s if self.wall_s else 0.0,
            "server_cpu_share": {k: v / self.wall_s for k, v in self.server_cpu_s.items()},
            "other_processes_cpu_share": self.others_cpu_s / self.wall_s if self.wall_s else 0.0,
            "server_cpu_us_per_request": self.server_cpu_us_per_request(),
            "requests_per_cpu_second": ratio(1e6, self.server_cpu_us_per_request()),
        }


class Bench:
    """One pooled `BenchClient` per target, and the phases, rounds and blocks they are driven through."""

    def __init__(
        self,
        servers: dict[str, Server],
        targets: dict[str, Target],
        run_tag: str,
        *,
        quiet_wait_s: float,
        noise_limit: float,
        retry_budget_s: float,
    ) -> None:
        self.servers = servers
        self.retry_budget_s = retry_budget_s
        self.quiet_wait_s = quiet_wait_s
        self.noise_limit = noise_limit
        self.targets = targets
        self.run_tag = run_tag
        self.clients: dict[str, BenchClient] = {}
        self._body_sets = 0
        self._exit_stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Bench:
        timeouts = Timeouts(connect_s=10, request_s=60)
        for name, target in self.targets.items():
            self.clients[name] = await self._exit_stack.enter_async_context(BenchClient(target, timeouts))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._exit_stack.aclose()

    def bodies(self, name: str, *, stream: bool) -> UniqueBodies:
        """A fresh body set whose tags no earlier set used (so nothing is cached across phases)."""
        self._body_sets += 1
        tag = f"{self.run_tag}-{self._body_sets}-{name}"
        return UniqueBodies(self.targets[name].model, stream=stream, run_tag=tag)

    def _own_cpu_seconds(self) -> float:
        return time.process_time() + sum(s.cpu_seconds() for s in self.servers.values())

    async def wait_until_quiet(self) -> bool:
        """Wait (up to `quiet_wait_s`) until other processes use under QUIET_CPU of the machine for a second;
        False when they never did, so the block runs in their noise and says so."""
        deadline = time.monotonic() + self.quiet_wait_s
        while True:
            busy, own = busy_cpu_seconds(), self._own_cpu_seconds()
            await asyncio.sleep(1.0)
            others = (busy_cpu_seconds() - busy) - (self._own_cpu_seconds() - own)
            if others < QUIET_CPU:
                return True
            if time.monotonic() >= deadline:
                return False

    async def block(
        self, name: str, bodies: UniqueBodies, concurrency: int, *, requests: int | None, duration_s: float | None
    ) -> Block:
        before = {k: s.cpu_seconds() for k, s in self.servers.items()}
        busy = busy_cpu_seconds()
        cpu = time.process_time()
        records, wall = await closed_loop(
            self.clients[name], bodies, concurrency, requests=requests, duration_s=duration_s
        )
        client_cpu = time.process_time() - cpu
        after = {k: s.cpu_seconds() for k, s in self.servers.items()}
        servers = {k: after[k] - before[k] for k in before}
        # What other processes on the machine (tests, builds) took meanwhile: the noise in this block.
        others = max(0.0, busy_cpu_seconds() - busy - client_cpu - sum(servers.values()))
        return Block(records, wall, client_cpu, servers, others)

    async def phase(
        self,
        title: str,
        names: Sequence[str],
        *,
        stream: bool,
        concurrency: int,
        rounds: int,
        requests: int | None = None,
        duration_s: float | None = None,
        warmup: int,
    ) -> Phase:
        """Warm every target up, then run `rounds` rounds of A B C C B A, sharing out `requests` or
        `duration_s` per target. A round in which other processes used more than `noise_limit` CPUs is
        measured again (for at most `retry_budget_s` per phase), so a neighbour's burst does not land on one
        target."""
        bodies = {n: self.bodies(n, stream=stream) for n in names}
        for name in names:
            await self.block(name, bodies[name], concurrency, requests=warmup, duration_s=None)
        per_block_requests = None if requests is None else max(1, requests // (2 * rounds))
        per_block_s = None if duration_s is None else duration_s / (2 * rounds)
        phase = Phase({n: Measured("upstream" if n == "direct" else n) for n in names})
        retried_s = 0.0
        while len(phase.kept_noise) < rounds:
            round_started = time.monotonic()  # waiting for quiet counts against the retry budget too
            quiet = await self.wait_until_quiet() if self.quiet_wait_s > 0 else True
            blocks = []
            for name in [*names, *reversed(names)]:
                block = await self.block(
                    name, bodies[name], concurrency, requests=per_block_requests, duration_s=per_block_s
                )
                blocks.append((name, block))
            noise = sum(b.others_cpu_s for _, b in blocks) / sum(b.wall_s for _, b in blocks)
            rates = ", ".join(f"{n} {len(b.records) / b.wall_s:,.0f}" for n, b in blocks[: len(names)])
            retry = noise > self.noise_limit and retried_s < self.retry_budget_s
            print(
                f"  {title:<20} round {len(phase.kept_noise) + 1}/{rounds}: req/s {rates}; "
                f"other processes {noise:.2f} CPU{' -> measured again' if retry else ''}",
                flush=True,
            )
            if retry:
                phase.discarded_noise.append(noise)
                retried_s += time.monotonic() - round_started
                continue
            phase.kept_noise.append(noise)
            phase.unquiet_starts += not quiet
            for name, block in blocks:
                phase.targets[name].add(block)
        return phase


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


# ---------------------------------------------------------------- profile


def profile_gateway(pid: int, seconds: float, out: Path) -> Path | None:
    """Start py-spy on the gateway for `seconds`, sampling only the thread holding the GIL (where CPU goes),
    as collapsed stacks; returns the file, or None without py-spy."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return None
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "250", "--gil"]
    subprocess.Popen(
        [*command, "--format", "raw", "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return out


# Frames every sample passes through on its way to real work; they say nothing about where time goes.
_ROOT_FRAMES: tuple[str, ...] = (
    *("runpy", "typer/", "click/", "inferstack/cli/", "inferstack/__main__", "gateway/runner", "uvicorn/server"),
    *("uvicorn/_compat", "asyncio/runners", "threading", "concurrent/futures/thread"),
)


def hot_spots(collapsed: Path, top: int = 25) -> dict[str, list[tuple[str, float]]]:
    """Shares of samples per function (self and inclusive) and per package (self) from py-spy's stacks."""
    self_counts: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        self_counts[frames[-1]] += count
        packages[_package(frames[-1])] += count
        for frame in set(frames):
            if not any(root in frame for root in _ROOT_FRAMES):
                inclusive[frame] += count
    if not total:
        return {"self": [], "inclusive": [], "packages": []}
    return {
        "self": [(f, c / total) for f, c in self_counts.most_common(top)],
        "inclusive": [(f, c / total) for f, c in inclusive.most_common(top * 2)],
        "packages": [(p, c / total) for p, c in packages.most_common(top)],
    }


def _short(frame: str) -> str:
    # py-spy frames read "function (path/to/module.py:line)"; keep the function and the path from site-packages.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "src/", f"lib/python{sys.version_info.major}.{sys.version_info.minor}/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    path, _, _line = where.rpartition(":")
    return f"{name} ({path or where})"


def _package(frame: str) -> str:
    """`inferstack/gateway/keys/registry.py` -> `inferstack.gateway.keys`; `starlette/routing.py` -> `starlette`;
    the event loop's own frame (uvloop's C code, syscalls) is named as such."""
    path = frame.rpartition(" (")[2].rstrip(")")
    if path == "asyncio/runners.py":
        return "event loop (uvloop C code, socket I/O)"
    parts = path.split("/")
    if parts[0] == "inferstack" and len(parts) > 2:
        return ".".join(parts[:2]) + ("" if len(parts) < 3 else "." + parts[2].removesuffix(".py"))
    return parts[0].removesuffix(".py") if len(parts) > 1 else path


# ---------------------------------------------------------------- report


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


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
    for mode, label in (("non_stream", f"{c} non-streaming req/s"), ("stream", f"{c} streaming req/s")):
        row(label, [_f(thr[mode][n]["requests_per_s"], 0) for n in names], ratios.get(f"{mode}_requests_per_s"))
    for mode, label in (("non_stream", "non-streaming"), ("stream", "streaming")):
        cells = []
        for n in names:
            shares = thr[mode][n]["server_cpu_share"]
            own = shares.get(n, 0.0)
            cell = f"client {thr[mode][n]['client_cpu_share']:.0%}, upstream {shares.get('upstream', 0):.0%}"
            cells.append(cell if n == "direct" else f"{cell}, gateway {own:.0%}")
        row(f"CPU during {c} {label}", cells)
    for mode, label in (("non_stream", "non-streaming"), ("stream", "streaming")):
        cpu_us = [thr[mode][n]["server_cpu_us_per_request"] for n in names]
        row(
            f"server CPU per request, {c} {label} (µs)",
            [_f(cpu_us[0], 0) + " (upstream)", *[_f(v, 0) for v in cpu_us[1:]]],
            ratio(cpu_us[1], cpu_us[2]) if len(cpu_us) > 2 else None,
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


def markdown_hot_spots(spots: dict[str, list[tuple[str, float]]], title: str, top: int = 15) -> str:
    lines = [f"### {title}", "", "| self | package |", "| ---: | --- |"]
    lines += [f"| {share:.1%} | `{name}` |" for name, share in spots["packages"][:top]]
    lines += ["", "| self | function |", "| ---: | --- |"]
    lines += [f"| {share:.1%} | `{name}` |" for name, share in spots["self"][:top]]
    lines += ["", "| inclusive | function |", "| ---: | --- |"]
    lines += [f"| {share:.1%} | `{name}` |" for name, share in spots["inclusive"][: top * 2]]
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
    """Upstream, then inferstack, then LiteLLM (created in its venv when missing), each waited for."""
    logs = run_dir / "logs"
    logs.mkdir(parents=True)
    # The client and the upstream share CPU 0; each gateway gets CPU 1 to itself (only one is loaded at a time).
    client_cpus, gateway_cpus = ("0", "1") if options.pin else (None, None)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BENCH_UPSTREAM_KEY": "none", "BENCH_MASTER_KEY": MASTER_KEY}
    ports = {name: free_port() for name in ("upstream", *GATEWAYS)}
    stack.meta["ports"] = ports
    stack.config.write_text(CONFIG.format(model=MODEL, upstream_port=ports["upstream"]))
    python = sys.executable
    upstream = [python, "-m", "inferstack.bench.null_server", "--port", str(ports["upstream"])]
    stack.servers["upstream"] = start_server(
        "upstream", upstream, ports["upstream"], logs=logs, cpus=client_cpus, env=env
    )
    await wait_ready(stack.servers["upstream"], "/health")
    gateway = [python, "-m", "inferstack", "gateway", "--config", str(stack.config), "--port", str(ports["inferstack"])]
    gateway += ["--data-dir", str(stack.data_dir)]
    stack.servers["inferstack"] = start_server(
        "inferstack", gateway, ports["inferstack"], logs=logs, cpus=gateway_cpus, env=env
    )
    await wait_ready(stack.servers["inferstack"], "/health")
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
        if profile_gateway(pid, seconds, raw) is None:
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


async def measure(options: Options, run_dir: Path) -> dict[str, Any]:
    if options.pin:
        os.sched_setaffinity(0, {0})
    stack = Stack({}, run_dir / "gateway-config.yaml", Path(tempfile.mkdtemp(prefix="gateway-bench-")), {})
    servers = stack.servers
    try:
        await start_stack(options, run_dir, stack)
        inferstack_url = servers["inferstack"].url
        virtual_key = await create_virtual_key(inferstack_url)
        stack.meta["inferstack_probe_headers"] = await probe_headers(inferstack_url, virtual_key)
        targets = {
            "direct": Target(label="direct", url=servers["upstream"].url, model="null"),
            "inferstack": Target(label="inferstack", url=inferstack_url, model=MODEL, api_key=virtual_key),
        }
        if "litellm" in servers:
            targets["litellm"] = Target(label="litellm", url=servers["litellm"].url, model=MODEL, api_key=MASTER_KEY)
        run_tag = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        async with Bench(
            servers,
            targets,
            run_tag,
            quiet_wait_s=options.quiet_wait_s,
            noise_limit=options.noise_limit,
            retry_budget_s=options.retry_budget_s,
        ) as bench:
            results = await run_phases(options, bench)
            state = await inferstack_state(inferstack_url, virtual_key)
            n = options.overhead_requests
            overhead = {
                "inferstack": await self_reported_overhead(
                    inferstack_url, virtual_key, "x-inferstack-overhead-ms", n, f"{run_tag}-own-i"
                )
            }
            if "litellm" in servers:
                overhead["litellm"] = await self_reported_overhead(
                    servers["litellm"].url, MASTER_KEY, "x-litellm-overhead-duration-ms", n, f"{run_tag}-own-l"
                )
            profiles = await profile_inferstack(options, bench, run_dir) if options.profile else {}
    finally:
        for server in reversed(servers.values()):
            server.stop()
        shutil.rmtree(stack.data_dir, ignore_errors=True)
    return {
        "summary": build_summary(results),
        "inferstack_state": state,
        "self_reported_overhead_c1": overhead,
        "profiles": profiles,
        "meta": stack.meta,
    }


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so SIGTERM, too, stops the servers this run started


def main(argv: Sequence[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _interrupt)
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
