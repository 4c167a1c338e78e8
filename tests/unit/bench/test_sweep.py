"""Sweep stop rules and knee detection on synthetic level metrics."""

from __future__ import annotations

from dataclasses import replace

from inferstack.bench.metrics import LevelMetrics, summarise
from inferstack.bench.settings import Slo, SweepSpec
from inferstack.bench.sweep import SweepStep, next_level, outcome, stop_reason

_BASE = summarise([], 1.0, Slo())


def level(rps: float, *, failed: int = 0, attainment: float | None = None) -> LevelMetrics:
    return replace(_BASE, requests=100, successes=100 - failed, request_throughput=rps, slo_attainment=attainment)


def steps(*points: tuple[float, LevelMetrics]) -> list[SweepStep]:
    return [SweepStep(lv, m) for lv, m in points]


SPEC = SweepSpec(enabled=True, max_level=64, min_gain=0.10, max_error_rate=0.05, min_slo_attainment=0.9)


def test_levels_double_and_concurrency_stays_whole() -> None:
    assert next_level(3, "concurrency") == 6
    assert next_level(2.5, "rate") == 5.0


def test_growing_throughput_keeps_the_sweep_going() -> None:
    assert stop_reason(steps((1, level(10)), (2, level(19))), SPEC, Slo(), "concurrency") is None


def test_flat_throughput_stops_the_sweep() -> None:
    reason = stop_reason(steps((1, level(10)), (2, level(19)), (4, level(20))), SPEC, Slo(), "concurrency")
    assert reason is not None and "grew +5.3%" in reason


def test_error_rate_breach_stops_the_sweep() -> None:
    reason = stop_reason(steps((1, level(10)), (2, level(19, failed=10))), SPEC, Slo(), "concurrency")
    assert reason is not None and "error rate 10.0%" in reason


def test_slo_breach_stops_the_sweep_only_when_an_slo_is_given() -> None:
    history = steps((1, level(10, attainment=1.0)), (2, level(19, attainment=0.5)))
    reason = stop_reason(history, SPEC, Slo(ttft_ms=100), "concurrency")
    assert reason is not None and "SLO attainment 50.0%" in reason
    assert stop_reason(history, SPEC, Slo(), "concurrency") is None


def test_the_maximum_level_stops_the_sweep() -> None:
    reason = stop_reason(steps((32, level(10)), (64, level(20))), SPEC, Slo(), "concurrency")
    assert reason is not None and "maximum of 64" in reason


def test_knee_is_the_last_level_that_still_paid_off() -> None:
    history = steps((1, level(10)), (2, level(19)), (4, level(35)), (8, level(36)))
    result = outcome(history, SPEC, Slo(), "flat")
    assert (result.knee, result.best_level, result.best_throughput) == (4, 8, 36)


def test_knee_ignores_levels_that_breached_the_limits() -> None:
    history = steps((1, level(10)), (2, level(19)), (4, level(35, failed=50)))
    result = outcome(history, SPEC, Slo(), "errors")
    assert (result.knee, result.best_level) == (2, 2)


def test_no_knee_when_the_first_level_already_breaches() -> None:
    result = outcome(steps((1, level(10, failed=90))), SPEC, Slo(), "errors")
    assert result.knee is None and result.best_level is None
