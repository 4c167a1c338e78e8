"""Two-target comparison: how the same workload is split into interleaved A-B-B-A blocks, and the
differences (B - A) and ratios (B / A) of each headline metric, e.g. a gateway's added latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferstack.bench.metrics import Distribution, LevelMetrics


@dataclass(frozen=True, slots=True)
class Block:
    """One contiguous run against one target: `target` is 0 (A) or 1 (B)."""

    target: int
    first_index: int
    requests: int | None
    duration_s: float | None


def abba_blocks(requests: int | None, duration_s: float | None) -> list[Block]:
    """Split a level into A, B, B, A halves so drift over time (warm caches, thermals) hits both alike.

    Each target sends the same request indices (the same prompts in the same order).
    """
    if duration_s is not None:
        half = duration_s / 2
        return [Block(t, 0, requests, half) for t in (0, 1, 1, 0)]
    if requests is None:
        raise ValueError("a level needs a request count or a duration")
    first = math.ceil(requests / 2)
    second = requests - first
    blocks = [Block(0, 0, first, None), Block(1, 0, first, None)]
    if second:
        blocks += [Block(1, first, second, None), Block(0, first, second, None)]
    return blocks


@dataclass(frozen=True, slots=True)
class MetricComparison:
    metric: str
    unit: str
    a: float | None
    b: float | None
    difference: float | None
    ratio: float | None


def _pair(metric: str, unit: str, a: float | None, b: float | None) -> MetricComparison:
    difference = None if a is None or b is None else b - a
    ratio = None if a is None or b is None or a == 0 else b / a
    return MetricComparison(metric, unit, a, b, difference, ratio)


def _stat(distribution: Distribution | None, stat: str) -> float | None:
    return None if distribution is None else float(getattr(distribution, stat))


def compare_metrics(a: LevelMetrics, b: LevelMetrics) -> list[MetricComparison]:
    """Headline metrics of B against A; for latency a positive difference is B's added overhead."""
    rows = [_pair(f"e2e_{s}", "ms", _stat(a.e2e_ms, s), _stat(b.e2e_ms, s)) for s in ("mean", "p50", "p90", "p99")]
    rows += [_pair(f"ttft_{s}", "ms", _stat(a.ttft_ms, s), _stat(b.ttft_ms, s)) for s in ("mean", "p50", "p99")]
    rows.append(_pair("tpot_p50", "ms", _stat(a.tpot_ms, "p50"), _stat(b.tpot_ms, "p50")))
    rows.append(_pair("itl_p50", "ms", _stat(a.itl_ms, "p50"), _stat(b.itl_ms, "p50")))
    rows.append(_pair("request_throughput", "req/s", a.request_throughput, b.request_throughput))
    rows.append(_pair("output_token_throughput", "tok/s", a.output_token_throughput, b.output_token_throughput))
    rows.append(_pair("error_rate", "fraction", a.error_rate, b.error_rate))
    rows.append(_pair("goodput", "req/s", a.goodput, b.goodput))
    return [row for row in rows if row.a is not None or row.b is not None]
