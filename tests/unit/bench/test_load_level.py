"""The level runner with a FakeSender: request counts, the concurrency bound, arrival schedules,
Ctrl-C (stop) and giving up on an unreachable target."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise

import pytest

from inferstack.bench.load_level import UNREACHABLE_AFTER, LevelProgress, LevelSpec, run_level
from inferstack.bench.records import CONNECT_ERROR, RequestRecord
from inferstack.bench.settings import WorkloadSpec
from inferstack.bench.workload import Prompt, RequestBodies, Workload


class FakeSender:
    """Answers instantly (or when `release` is set), records what was sent and the peak in flight."""

    def __init__(self, *, error: str | None = None, hold: bool = False) -> None:
        self.error = error
        self.release = asyncio.Event()
        if not hold:
            self.release.set()
        self.sent: list[bytes] = []
        self.scheduled: list[float | None] = []
        self.in_flight = 0
        self.peak = 0
        self.two_in_flight = asyncio.Event()

    async def send(self, body: bytes, *, stream: bool, scheduled: float | None = None) -> RequestRecord:
        self.sent.append(body)
        self.scheduled.append(scheduled)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        if self.in_flight >= 2:
            self.two_in_flight.set()
        try:
            await asyncio.sleep(0)
            await self.release.wait()
        finally:
            self.in_flight -= 1
        now = time.perf_counter()
        return RequestRecord(start=now, end=now, scheduled=scheduled, error=self.error)


def _bodies(count: int = 50) -> RequestBodies:
    prompts = [Prompt(f"p{i}", (("user", f"prompt {i}"),)) for i in range(count)]
    workload = Workload(prompts, WorkloadSpec(seed=0))
    workload.order = list(range(count))  # identity order, so body i is prompt i
    return workload.bodies_for("m")


async def test_closed_loop_sends_each_index_once_within_the_concurrency() -> None:
    sender, bodies = FakeSender(), _bodies()
    progress = LevelProgress("t", 10, None)
    run = await run_level(sender, bodies, LevelSpec("concurrency", 3, 10), stop=asyncio.Event(), progress=progress)
    assert len(run.records) == 10 and not run.interrupted
    assert sorted(sender.sent) == sorted(bodies.body(i) for i in range(10))
    assert sender.peak == 3
    assert (progress.sent, progress.done, progress.failed) == (10, 10, 0)


async def test_first_index_offsets_the_requests() -> None:
    sender, bodies = FakeSender(), _bodies()
    await run_level(sender, bodies, LevelSpec("concurrency", 1, 3, first_index=5), stop=asyncio.Event())
    assert sender.sent == [bodies.body(5), bodies.body(6), bodies.body(7)]


async def test_open_loop_schedules_requests_at_the_rate() -> None:
    sender, bodies = FakeSender(), _bodies()
    run = await run_level(sender, bodies, LevelSpec("rate", 1000, 20), stop=asyncio.Event())
    assert len(run.records) == 20
    due = [s for s in sender.scheduled if s is not None]
    assert len(due) == 20
    assert [b - a for a, b in pairwise(due)] == pytest.approx([0.001] * 19)
    assert all(r.scheduled is not None for r in run.records)


async def test_duration_mode_ends_on_its_own() -> None:
    sender, bodies = FakeSender(), _bodies()
    run = await run_level(sender, bodies, LevelSpec("concurrency", 2, None, duration_s=0.05), stop=asyncio.Event())
    assert run.records and not run.interrupted


@pytest.mark.parametrize("spec", [LevelSpec("concurrency", 4, 100), LevelSpec("rate", 1000, 100)])
async def test_stop_cancels_in_flight_requests_and_marks_the_level_interrupted(spec: LevelSpec) -> None:
    sender, stop = FakeSender(hold=True), asyncio.Event()
    task = asyncio.create_task(run_level(sender, _bodies(), spec, stop=stop))
    await sender.two_in_flight.wait()
    stop.set()
    run = await task
    assert run.interrupted and run.records == [] and sender.in_flight == 0


async def test_a_target_refusing_every_connection_is_given_up() -> None:
    sender = FakeSender(error=CONNECT_ERROR)
    run = await run_level(sender, _bodies(), LevelSpec("concurrency", 1, 100), stop=asyncio.Event())
    assert run.unreachable and not run.interrupted
    assert len(run.records) == UNREACHABLE_AFTER


async def test_other_errors_do_not_end_the_level() -> None:
    sender = FakeSender(error="http_500")
    run = await run_level(sender, _bodies(), LevelSpec("concurrency", 2, 30), stop=asyncio.Event())
    assert len(run.records) == 30 and not run.unreachable


async def test_a_level_needs_a_count_or_a_duration() -> None:
    with pytest.raises(ValueError, match="count or a duration"):
        await run_level(FakeSender(), _bodies(), LevelSpec("concurrency", 1, None), stop=asyncio.Event())
