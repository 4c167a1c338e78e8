"""The plan said before a run and the time left while it runs (pure: hand-made settings and counts)."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from rich.console import Console

from inferstack.bench.load_level import LevelProgress
from inferstack.bench.metrics import summarise
from inferstack.bench.plan import RunPlan, duration_text
from inferstack.bench.progress import RichDisplay
from inferstack.bench.settings import BenchSettings, Slo


def plan(**load: Any) -> RunPlan:
    options: dict[str, Any] = {"target": {"label": "A", "url": "http://x", "model": "m"}, "load": load}
    if load.pop("compare", False):
        options["compare"] = {"label": "B", "url": "http://y", "model": "m"}
    return RunPlan.from_settings(BenchSettings.model_validate(options))


def test_the_default_plan_names_its_400_requests_and_suggests_a_quick_look() -> None:
    lines = plan().describe()
    assert lines[0] == "plan: concurrency 1, 2, 4, 8 · 100 requests per level · 1 target · 400 requests"
    assert "the ETA shows once requests complete" in lines[1]
    assert lines[2] == "for a quick look first: --requests 10"


def test_a_rate_or_a_duration_fixes_the_estimate() -> None:
    assert plan(mode="rate", levels=(5, 10), requests=50).estimate_s() == pytest.approx(15.0)
    assert plan(levels=(1, 2), duration_s=30, compare=True).estimate_s() == pytest.approx(120.0)
    assert plan(levels=(1, 2), requests=8).estimate_s() is None
    assert "estimated duration: about 2 min 00 s" in plan(levels=(1, 2), duration_s=30, compare=True).describe()


def test_the_time_left_comes_from_the_current_levels_pace() -> None:
    p = plan(levels=(1, 2), requests=10)  # 20 requests in all
    assert p.remaining_s(done=2, elapsed_s=1.0, level_done=2, level_elapsed_s=1.0) is None  # too few to tell
    # 12 done; the current level finishes 4 per second: 8 left take 2 s.
    assert p.remaining_s(done=12, elapsed_s=10.0, level_done=2 + 2, level_elapsed_s=1.0) == pytest.approx(2.0)
    assert p.remaining_s(done=20, elapsed_s=10.0, level_done=10, level_elapsed_s=2.0) == 0


def test_durations_read_naturally() -> None:
    assert [duration_text(s) for s in (0.5, 45, 200, 3900)] == ["0.5 s", "45 s", "3 min 20 s", "1 h 05 min"]


def test_the_display_says_the_time_left_after_each_level() -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    p = plan(levels=(1, 2), requests=10)
    with RichDisplay(console, p) as display:
        first = LevelProgress("A · concurrency 1", total=10, duration_s=None)
        display.level_started(first)
        first.started = time.perf_counter() - 20.0  # 10 requests took 20 s: 10 more take about 20 s
        first.done = 10
        display.level_finished(first, summarise([], 20.0, Slo()))
    output = console.file
    assert isinstance(output, io.StringIO)
    assert re.search(r"^about (19|20|21) s left$", output.getvalue(), re.MULTILINE), output.getvalue()
