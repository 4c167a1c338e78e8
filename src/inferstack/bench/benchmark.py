"""Runs a whole benchmark: warm-up, each load level (or a sweep) against one target or two interleaved,
client-ceiling checks, and Ctrl-C handling that ends the run early with partial results.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Protocol

from inferstack.bench.calibrate import ClientCeiling
from inferstack.bench.client import BenchClient
from inferstack.bench.compare import Block, abba_blocks, compare_metrics
from inferstack.bench.load_level import UNREACHABLE_AFTER, LevelProgress, LevelRun, LevelSpec, Sender, run_level
from inferstack.bench.metrics import LevelMetrics, summarise
from inferstack.bench.results import BenchmarkResult, LevelComparison, LevelResult, TargetResult
from inferstack.bench.settings import BenchSettings, Target
from inferstack.bench.sweep import SweepStep, next_level, outcome, stop_reason
from inferstack.bench.workload import RequestBodies, Workload

# A rate-mode request that starts this late after its due time means the client fell behind.
_SCHEDULE_LAG_WARNING_MS = 10.0


class Display(Protocol):
    """Where a run reports progress as it goes (a live terminal view, or nothing)."""

    def level_started(self, progress: LevelProgress) -> None: ...

    def level_finished(self, progress: LevelProgress, metrics: LevelMetrics) -> None: ...

    def note(self, message: str) -> None: ...


class SilentDisplay:
    def level_started(self, progress: LevelProgress) -> None:
        pass

    def level_finished(self, progress: LevelProgress, metrics: LevelMetrics) -> None:
        pass

    def note(self, message: str) -> None:
        pass


def _levels(settings: BenchSettings) -> Iterator[float]:
    """The listed levels, then (when sweeping) doubling from the last until the sweep says stop."""
    yield from settings.load.levels
    if settings.sweep.enabled:
        level = settings.load.levels[-1]
        while (level := next_level(level, settings.load.mode)) <= settings.sweep.max_level:
            yield level


def _level_title(settings: BenchSettings, target: Target, level: float) -> str:
    name = "concurrency" if settings.load.mode == "concurrency" else "rate"
    return f"{target.label} · {name} {level:g}"


def _effective_settings(settings: BenchSettings, workload: Workload) -> dict[str, object]:
    """The settings as recorded in results.json: the values in effect, including what the workload sends."""
    data = settings.public_dict()
    workload_data = data["workload"]
    assert isinstance(workload_data, dict)
    workload_data.update(workload.effective())
    return data


class BenchmarkRun:
    """One run's state; `execute` drives it, `stop` ends it early."""

    def __init__(
        self, settings: BenchSettings, display: Display, ceiling: ClientCeiling | None, workload: Workload
    ) -> None:
        self.settings = settings
        self.workload = workload
        self.display = display
        self.stop = asyncio.Event()
        self.targets = [settings.target] + ([settings.compare] if settings.compare is not None else [])
        self.result = BenchmarkResult(
            mode=settings.load.mode,
            stream=settings.workload.stream,
            settings=_effective_settings(settings, workload),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            targets=[TargetResult(label=t.label, url=t.url, model=t.model) for t in self.targets],
            ceiling=ceiling,
        )

    def warn(self, message: str) -> None:
        self.result.warnings.append(message)
        self.display.note(f"warning: {message}")

    async def execute(self) -> BenchmarkResult:
        run_tag = secrets.token_hex(4)  # differs per run, so caches warmed by earlier runs miss too
        bodies = [self.workload.bodies_for(t.model, run_tag=run_tag) for t in self.targets]
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(BenchClient(t, self.settings.timeouts)) for t in self.targets]
            await self._warm_up(clients, bodies)
            steps: list[list[SweepStep]] = [[] for _ in self.targets]
            sweep_reason: str | None = None
            for level in _levels(self.settings):
                if self.stop.is_set():
                    break
                levels = await self._run_level(level, clients, bodies)
                for index, level_result in enumerate(levels):
                    self.result.targets[index].levels.append(level_result)
                    steps[index].append(SweepStep(level, level_result.metrics))
                    self._check_client(self.targets[index], level_result)
                if len(levels) == 2:
                    rows = compare_metrics(levels[0].metrics, levels[1].metrics)
                    self.result.comparisons.append(LevelComparison(level=level, rows=rows))
                if any(r.interrupted or r.unreachable for r in levels):
                    break
                failed = [t.label for t, r in zip(self.targets, levels, strict=True) if r.metrics.successes == 0]
                if failed:
                    who = "" if len(self.targets) == 1 else f" to {' and '.join(failed)}"
                    self.warn(f"every request{who} at level {level:g} failed; higher levels are not run")
                    break
                if self.settings.sweep.enabled and (sweep_reason := self._sweep_stop_reason(steps)):
                    break
            if self.settings.sweep.enabled:
                fallback = "interrupted" if self.stop.is_set() else "ran every level up to the maximum"
                self._finish_sweep(steps, sweep_reason or fallback)
        self.result.partial = self.stop.is_set()
        self.result.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        return self.result

    async def _warm_up(self, clients: Sequence[BenchClient], bodies: Sequence[RequestBodies]) -> None:
        load = self.settings.load
        if not load.warmup:
            return
        concurrency = max(1, min(load.warmup, int(load.levels[0])))
        for index, (client, target_bodies) in enumerate(zip(clients, bodies, strict=True)):
            self.display.note(f"{self.targets[index].label}: warming up with {load.warmup} requests")
            spec = LevelSpec("concurrency", concurrency, load.warmup)
            run = await run_level(client, target_bodies, spec, stop=self.stop)
            errors = summarise(run.records, run.duration_s, self.settings.slo).errors
            self.result.targets[index].warmup_errors = errors
            if errors:
                self.warn(f"{self.targets[index].label}: warm-up requests failed: {errors}")

    async def _run_level(
        self, level: float, clients: Sequence[Sender], bodies: Sequence[RequestBodies]
    ) -> list[LevelResult]:
        load = self.settings.load
        seed = self.settings.workload.seed
        if len(clients) == 1:
            blocks = [Block(0, 0, load.request_budget, load.duration_s)]
        else:
            blocks = abba_blocks(load.request_budget, load.duration_s)
        progresses = [
            LevelProgress(_level_title(self.settings, t, level), load.request_budget, load.duration_s)
            for t in self.targets
        ]
        runs: list[list[LevelRun]] = [[] for _ in clients]
        for block in blocks:
            if self.stop.is_set():
                break
            spec = LevelSpec(load.mode, level, block.requests, block.duration_s, load.arrival, seed, block.first_index)
            if not runs[block.target]:
                self.display.level_started(progresses[block.target])
            run = await run_level(
                clients[block.target],
                bodies[block.target],
                spec,
                stop=self.stop,
                progress=progresses[block.target],
            )
            runs[block.target].append(run)
        results = []
        for index, target_runs in enumerate(runs):
            records = [r for run in target_runs for r in run.records]
            metrics = summarise(records, sum(run.duration_s for run in target_runs), self.settings.slo)
            if target_runs:
                self.display.level_finished(progresses[index], metrics)
            interrupted = self.stop.is_set() or any(run.interrupted for run in target_runs)
            unreachable = any(run.unreachable for run in target_runs)
            if unreachable:
                self.warn(
                    f"{self.targets[index].label} looks unreachable: its first {UNREACHABLE_AFTER} requests at "
                    f"level {level:g} all failed to connect; no further levels are run"
                )
            results.append(
                LevelResult(
                    level=level, metrics=metrics, interrupted=interrupted, unreachable=unreachable, records=records
                )
            )
        return results

    def _check_client(self, target: Target, level: LevelResult) -> None:
        metrics = level.metrics
        ceiling = self.result.ceiling
        if ceiling is not None:
            stream = self.settings.workload.stream
            share = ceiling.share_used(metrics.request_throughput, stream=stream, chunks=metrics.chunks_per_request)
            if share >= self.settings.ceiling.warn_fraction:
                shape = f" of ~{metrics.chunks_per_request:.0f} chunks" if stream else ""
                self.warn(
                    f"{target.label} at level {level.level:g}: {metrics.request_throughput:,.0f} req/s{shape} "
                    f"uses about {share:.0%} of this client's calibrated capacity "
                    f"({ceiling.non_stream.requests_per_s:,.0f} req/s without streaming, "
                    f"{ceiling.stream.requests_per_s:,.0f} with {ceiling.stream_tokens} chunks); "
                    "the client may be the bottleneck, not the target"
                )
        lag = metrics.schedule_lag_ms
        if lag is not None and lag.p99 > _SCHEDULE_LAG_WARNING_MS:
            self.warn(
                f"{target.label} at rate {level.level:g}: requests started up to {lag.p99:.1f} ms (p99) "
                "after their due time; the client could not keep the arrival schedule"
            )

    def _sweep_stop_reason(self, steps: Sequence[Sequence[SweepStep]]) -> str | None:
        """The first target's reason to stop; in compare mode either target saturating ends the sweep."""
        s = self.settings
        reasons = [stop_reason(target_steps, s.sweep, s.slo, s.load.mode) for target_steps in steps]
        labelled = [f"{t.label}: {r}" for t, r in zip(self.targets, reasons, strict=True) if r]
        return "; ".join(labelled) if labelled else None

    def _finish_sweep(self, steps: Sequence[Sequence[SweepStep]], reason: str) -> None:
        s = self.settings
        for index, target_steps in enumerate(steps):
            self.result.targets[index].sweep = outcome(target_steps, s.sweep, s.slo, reason)


@contextlib.contextmanager
def _interrupt_handling(run: BenchmarkRun) -> Iterator[None]:
    """First Ctrl-C (or SIGTERM) stops the run with partial results; a second Ctrl-C aborts."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def interrupted() -> None:
        if run.stop.is_set():
            if task is not None:
                task.cancel()
            return
        run.stop.set()
        run.display.note("interrupted: stopping and writing partial results (Ctrl-C again to abort)")

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, interrupted)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or a platform without loop signal handlers
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_benchmark(
    settings: BenchSettings,
    display: Display | None = None,
    *,
    ceiling: ClientCeiling | None = None,
    workload: Workload | None = None,
    handle_signals: bool = False,
) -> BenchmarkResult:
    """Run the benchmark described by `settings` (its workload unless one is given, already loaded);
    with `handle_signals`, Ctrl-C yields partial results."""
    workload = workload or Workload.from_spec(settings.workload)
    run = BenchmarkRun(settings, display or SilentDisplay(), ceiling, workload)
    if not handle_signals:
        return await run.execute()
    with _interrupt_handling(run):
        return await run.execute()
