"""The live terminal view of a run (rich): one progress bar per target and level with the run's ETA, a line
per finished level saying how long is left, and notes such as warnings. It reads the runner's counters four
times a second rather than being called per request, so it costs the client almost nothing at high rates.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from inferstack.bench import formatting as fmt
from inferstack.bench.load_level import LevelProgress
from inferstack.bench.metrics import LevelMetrics
from inferstack.bench.plan import RunPlan, duration_text

_REFRESH_S = 0.25


def _status(progress: LevelProgress) -> str:
    elapsed = time.perf_counter() - progress.started if progress.started is not None else 0.0
    rps = progress.done / elapsed if elapsed > 0 else 0.0
    return f"{progress.done} done · {progress.failed} failed · {rps:.1f} req/s"


def _completed(progress: LevelProgress) -> tuple[float, float | None]:
    if progress.total is not None:
        return float(progress.done), float(progress.total)
    elapsed = time.perf_counter() - progress.started if progress.started is not None else 0.0
    return min(elapsed, progress.duration_s or 0.0), progress.duration_s


def level_line(progress: LevelProgress, metrics: LevelMetrics) -> str:
    parts = [
        f"{progress.title}: {metrics.successes}/{metrics.requests} ok",
        f"{fmt.rate(metrics.request_throughput)} req/s",
        f"{fmt.rate(metrics.output_token_throughput)} out tok/s",
    ]
    if metrics.ttft_ms is not None:
        parts.append(f"TTFT p50 {fmt.stat_ms(metrics.ttft_ms, 'p50')} ms")
    parts.append(f"E2E p50 {fmt.stat_ms(metrics.e2e_ms, 'p50')} ms")
    if metrics.errors:
        parts.append("errors " + ", ".join(f"{k}={v}" for k, v in metrics.errors.items()))
    return " · ".join(parts)


class RunEta:
    """The time left in a run: requests finished so far, at the pace of the current (or last finished) level."""

    def __init__(self, plan: RunPlan | None) -> None:
        self.plan = plan
        self.started: float | None = None
        self.finished_requests = 0
        self._last_level: tuple[int, float] = (0, 0.0)  # requests and seconds of the last finished level

    def level_started(self) -> None:
        if self.started is None:
            self.started = time.perf_counter()

    def level_finished(self, progress: LevelProgress) -> None:
        self.finished_requests += progress.done
        if progress.started is not None:
            self._last_level = (progress.done, time.perf_counter() - progress.started)

    def remaining_s(self, current: LevelProgress | None) -> float | None:
        if self.plan is None or self.started is None:
            return None
        now = time.perf_counter()
        level_done, level_elapsed = self._last_level
        in_level = 0
        if current is not None and current.started is not None:
            in_level = current.done
            level_done, level_elapsed = current.done, now - current.started
        return self.plan.remaining_s(
            done=self.finished_requests + in_level,
            elapsed_s=now - self.started,
            level_done=level_done,
            level_elapsed_s=level_elapsed,
        )

    def text(self, current: LevelProgress | None) -> str:
        remaining = self.remaining_s(current)
        return "" if remaining is None or remaining < 1 else f"about {duration_text(remaining)} left"


class RichDisplay:
    """A `Display` for terminals; use as a context manager around the run."""

    def __init__(self, console: Console, plan: RunPlan | None = None) -> None:
        self.console = console
        self.eta = RunEta(plan)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            refresh_per_second=4,
        )
        self._tasks: dict[int, tuple[TaskID, LevelProgress]] = {}
        self._refresher: asyncio.Task[None] | None = None

    def __enter__(self) -> RichDisplay:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        self._progress.stop()

    def _status(self, progress: LevelProgress) -> str:
        eta = self.eta.text(progress)
        return _status(progress) + (f" · {eta}" if eta else "")

    def level_started(self, progress: LevelProgress) -> None:
        self.eta.level_started()
        completed, total = _completed(progress)
        task = self._progress.add_task(
            progress.title, total=total, completed=int(completed), status=self._status(progress)
        )
        self._tasks[id(progress)] = (task, progress)
        if self._refresher is None or self._refresher.done():
            with contextlib.suppress(RuntimeError):  # no running loop: updates happen at level end only
                self._refresher = asyncio.get_running_loop().create_task(self._refresh())

    def level_finished(self, progress: LevelProgress, metrics: LevelMetrics) -> None:
        entry = self._tasks.pop(id(progress), None)
        if entry is not None:
            self._progress.remove_task(entry[0])
        self.eta.level_finished(progress)
        self._progress.console.print(f"[green]✓[/green] {level_line(progress, metrics)}", highlight=False)
        if eta := self.eta.text(None):
            self._progress.console.print(f"[dim]{eta}[/dim]", highlight=False)

    def note(self, message: str) -> None:
        style = "yellow" if message.startswith(("warning", "interrupted")) else "dim"
        self._progress.console.print(f"[{style}]{message}[/{style}]", highlight=False)

    async def _refresh(self) -> None:
        while True:
            for task, progress in list(self._tasks.values()):
                completed, total = _completed(progress)
                self._progress.update(task, completed=completed, total=total, status=self._status(progress))
            await asyncio.sleep(_REFRESH_S)
