"""Saturation sweep rules: when to stop raising the load, and where the knee of the curve lies.

Pure functions of the levels measured so far. A sweep stops when throughput grows by less than
`min_gain` over the previous level, when the error rate or SLO attainment breaches its limit, or when
the next level would pass `max_level`. The knee is the last level that stayed within the limits and
still raised throughput by at least `min_gain`: beyond it, more load buys mostly latency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inferstack.bench.metrics import LevelMetrics
from inferstack.bench.settings import LoadMode, Slo, SweepSpec


@dataclass(frozen=True, slots=True)
class SweepStep:
    level: float
    metrics: LevelMetrics


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    knee: float | None
    best_level: float | None
    best_throughput: float | None
    stop_reason: str


def next_level(level: float, mode: LoadMode) -> float:
    """Double the load; concurrency stays a whole number."""
    return float(int(level) * 2) if mode == "concurrency" else level * 2


def breach(metrics: LevelMetrics, spec: SweepSpec, slo: Slo) -> str | None:
    """Why a level broke the error or SLO limit, or None if it stayed within both."""
    if metrics.requests == 0:
        return "no request completed"
    if metrics.error_rate > spec.max_error_rate:
        return f"error rate {metrics.error_rate:.1%} is above the {spec.max_error_rate:.0%} limit"
    if slo.given and metrics.slo_attainment is not None and metrics.slo_attainment < spec.min_slo_attainment:
        return f"SLO attainment {metrics.slo_attainment:.1%} is below the {spec.min_slo_attainment:.0%} target"
    return None


def _gain(earlier: LevelMetrics, later: LevelMetrics) -> float:
    if earlier.throughput <= 0:
        return float("inf") if later.throughput > 0 else 0.0
    return later.throughput / earlier.throughput - 1


def stop_reason(steps: Sequence[SweepStep], spec: SweepSpec, slo: Slo, mode: LoadMode) -> str | None:
    """Why the sweep should stop after the last step, or None to try the next level."""
    if not steps:
        return None
    last = steps[-1]
    problem = breach(last.metrics, spec, slo)
    if problem is not None:
        return f"level {last.level:g}: {problem}"
    if len(steps) >= 2:
        gain = _gain(steps[-2].metrics, last.metrics)
        if gain < spec.min_gain:
            return (
                f"level {last.level:g}: throughput grew {gain:+.1%} over level {steps[-2].level:g}, "
                f"less than the {spec.min_gain:.0%} that justifies more load"
            )
    if next_level(last.level, mode) > spec.max_level:
        return f"level {last.level:g}: the next level would pass the maximum of {spec.max_level:g}"
    return None


def outcome(steps: Sequence[SweepStep], spec: SweepSpec, slo: Slo, reason: str) -> SweepOutcome:
    within = [i for i, step in enumerate(steps) if breach(step.metrics, spec, slo) is None]
    knee = None
    for i in within:
        if i == 0 or _gain(steps[i - 1].metrics, steps[i].metrics) >= spec.min_gain:
            knee = steps[i].level
    best = max(within, key=lambda i: steps[i].metrics.throughput, default=None)
    return SweepOutcome(
        knee=knee,
        best_level=None if best is None else steps[best].level,
        best_throughput=None if best is None else steps[best].metrics.throughput,
        stop_reason=reason,
    )
