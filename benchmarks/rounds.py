"""Side-by-side measurement of several targets under the same load: closed-loop blocks, rounds of A B C C B A
so slow drift falls on every target alike, and rounds measured again when other processes took the machine.

Each block records the client's, every server's and everyone else's CPU, which gives server CPU per request
(the figure that hardly moves on a busy machine) beside wall-clock latency and requests/s.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from harness import Server, busy_cpu_seconds
from inferstack.bench.client import BenchClient
from inferstack.bench.metrics import percentile
from inferstack.bench.records import RequestRecord
from inferstack.bench.settings import Target, Timeouts

# Before each measured block, wait for a second in which other processes used less than this many CPUs.
QUIET_CPU = 0.2
COMPLETION_TOKENS = 16


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

    # Before each round, wait (up to `quiet_wait_s`) for a quiet second; a round in which other processes took
    # more than `noise_limit` CPUs is measured again, for at most `retry_budget_s` per phase.

    def __init__(
        self,
        servers: dict[str, Server],
        targets: dict[str, Target],
        run_tag: str,
        *,
        server_of: Mapping[str, str],
        quiet_wait_s: float,
        noise_limit: float,
        retry_budget_s: float,
    ) -> None:
        self.servers = servers
        self.server_of = server_of  # target -> the server that answers it (several targets may share one)
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
        phase = Phase({n: Measured(self.server_of.get(n, n)) for n in names})
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


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None
