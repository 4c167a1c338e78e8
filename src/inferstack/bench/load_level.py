"""Runs one load level: a closed loop of N concurrent workers, or an open loop of scheduled arrivals.

A level ends after its request count or duration, or as soon as `stop` is set (Ctrl-C); requests in
flight at that moment are cancelled and left out, and the level is marked interrupted. A level also
gives up when its first several requests all fail to connect, so an unreachable target costs seconds,
not a connect timeout per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from inferstack.bench.arrivals import arrival_offsets
from inferstack.bench.records import CONNECT_ERROR, CONNECT_TIMEOUT, RequestRecord
from inferstack.bench.settings import Arrival, LoadMode
from inferstack.bench.workload import RequestBodies

# Connection failures in a row, with no success before them, after which a target counts as unreachable.
UNREACHABLE_AFTER = 8


class Sender(Protocol):
    async def send(self, body: bytes, *, stream: bool, scheduled: float | None = None) -> RequestRecord: ...


@dataclass(frozen=True, slots=True)
class LevelSpec:
    """One level: `value` is a concurrency (closed loop) or a rate in requests/s (open loop)."""

    mode: LoadMode
    value: float
    requests: int | None
    duration_s: float | None = None
    arrival: Arrival = "constant"
    seed: int = 0
    first_index: int = 0


@dataclass(slots=True)
class LevelProgress:
    """Counters the live display reads; the runner only increments them."""

    title: str
    total: int | None
    duration_s: float | None
    started: float | None = None
    sent: int = 0
    done: int = 0
    failed: int = 0


@dataclass(slots=True)
class LevelRun:
    spec: LevelSpec
    records: list[RequestRecord] = field(default_factory=list)
    duration_s: float = 0.0
    interrupted: bool = False
    unreachable: bool = False


class _Halt:
    """What ends a level early: the run's `stop` (Ctrl-C), or a target found unreachable."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.unreachable = asyncio.Event()

    def is_set(self) -> bool:
        return self.stop.is_set() or self.unreachable.is_set()


async def _until_done_or_halted(tasks: list[asyncio.Task[None]], halt: _Halt) -> None:
    """Wait for every task, or cancel those still running once the level is halted."""
    gathered = asyncio.gather(*tasks, return_exceptions=True)
    stoppers = [asyncio.create_task(halt.stop.wait()), asyncio.create_task(halt.unreachable.wait())]
    waiters: set[asyncio.Future[Any]] = {gathered, *stoppers}
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for stopper in stoppers:
        stopper.cancel()
    for task in tasks:
        task.cancel()  # a no-op for finished tasks
    outcomes = await gathered
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome


class _Recorder:
    def __init__(self, run: LevelRun, progress: LevelProgress, halt: _Halt) -> None:
        self.run = run
        self.progress = progress
        self.halt = halt
        self._connect_failures = 0
        self._any_success = False

    def add(self, record: RequestRecord) -> None:
        self.run.records.append(record)
        self.progress.done += 1
        if record.ok:
            self._any_success = True
            return
        self.progress.failed += 1
        if record.error in (CONNECT_ERROR, CONNECT_TIMEOUT) and not self._any_success:
            self._connect_failures += 1
            if self._connect_failures >= UNREACHABLE_AFTER:
                self.run.unreachable = True
                self.halt.unreachable.set()
        else:
            self._connect_failures = 0


async def _closed_loop(
    sender: Sender, bodies: RequestBodies, spec: LevelSpec, halt: _Halt, recorder: _Recorder
) -> None:
    end_index = None if spec.requests is None else spec.first_index + spec.requests
    deadline = None if spec.duration_s is None else time.perf_counter() + spec.duration_s
    next_index = spec.first_index

    async def worker() -> None:
        nonlocal next_index
        while not halt.is_set():
            if end_index is not None and next_index >= end_index:
                return
            if deadline is not None and time.perf_counter() >= deadline:
                return
            index = next_index
            next_index += 1
            recorder.progress.sent += 1
            recorder.add(await sender.send(bodies.body(index), stream=bodies.stream))

    workers = [asyncio.create_task(worker()) for _ in range(int(spec.value))]
    await _until_done_or_halted(workers, halt)


async def _open_loop(sender: Sender, bodies: RequestBodies, spec: LevelSpec, halt: _Halt, recorder: _Recorder) -> None:
    start = time.perf_counter()
    deadline = None if spec.duration_s is None else start + spec.duration_s
    in_flight: list[asyncio.Task[None]] = []

    async def one(index: int, due: float) -> None:
        recorder.add(await sender.send(bodies.body(index), stream=bodies.stream, scheduled=due))

    async def schedule() -> None:
        for sent, offset in enumerate(arrival_offsets(spec.value, spec.arrival, seed=spec.seed)):
            due = start + offset
            if spec.requests is not None and sent >= spec.requests:
                return
            if deadline is not None and due >= deadline:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            recorder.progress.sent += 1
            in_flight.append(asyncio.create_task(one(spec.first_index + sent, due)))

    await _until_done_or_halted([asyncio.create_task(schedule())], halt)
    await _until_done_or_halted(in_flight, halt)


async def run_level(
    sender: Sender,
    bodies: RequestBodies,
    spec: LevelSpec,
    *,
    stop: asyncio.Event,
    progress: LevelProgress | None = None,
) -> LevelRun:
    """Run one level to completion (or until `stop`) and return its records and wall time."""
    if spec.requests is None and spec.duration_s is None:
        raise ValueError("a level needs a request count or a duration")
    run = LevelRun(spec=spec)
    progress = progress or LevelProgress(title="", total=spec.requests, duration_s=spec.duration_s)
    halt = _Halt(stop)
    loop: Callable[..., Awaitable[None]] = _closed_loop if spec.mode == "concurrency" else _open_loop
    started = time.perf_counter()
    progress.started = started
    await loop(sender, bodies, spec, halt, _Recorder(run, progress, halt))
    run.duration_s = time.perf_counter() - started
    run.interrupted = stop.is_set()
    return run
