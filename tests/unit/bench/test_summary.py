"""The terminal summary fits an 80-column terminal with every key figure whole (no wrap, no ellipsis)."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from rich.console import Console

from inferstack.bench import formatting as fmt
from inferstack.bench.compare import compare_metrics
from inferstack.bench.metrics import Distribution, LevelMetrics
from inferstack.bench.results import BenchmarkResult, LevelComparison
from inferstack.bench.summary import latency_cell, print_summary

WIDTH = 80


def _widen(distribution: Distribution | None, factor: float) -> Distribution | None:
    if distribution is None:
        return None
    stats = ("mean", "min", "max", "p50", "p90", "p95", "p99")
    return replace(distribution, **{s: float(getattr(distribution, s)) * factor for s in stats})


def _big(metrics: LevelMetrics) -> LevelMetrics:
    """The same level with figures as wide as real runs give: 5-6 digit latencies and throughputs."""
    return replace(
        metrics,
        requests=10_000,
        successes=9_999,
        request_throughput=12_345.6,
        output_token_throughput=123_456.7,
        goodput=12_000.4,
        ttft_ms=_widen(metrics.ttft_ms, 1000),
        itl_ms=_widen(metrics.itl_ms, 300),
        tpot_ms=_widen(metrics.tpot_ms, 300),
        e2e_ms=_widen(metrics.e2e_ms, 1000),
    )


def render(result: BenchmarkResult) -> list[str]:
    console = Console(width=WIDTH, file=io.StringIO(), color_system=None)
    print_summary(result, console)
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue().splitlines()


def key_figures(result: BenchmarkResult) -> list[str]:
    figures = []
    for target in result.targets:
        for level in target.levels:
            m = level.metrics
            figures += [
                f"{m.successes}/{m.requests}",
                fmt.rate(m.request_throughput),
                fmt.rate(m.output_token_throughput),
            ]
            for distribution in (m.ttft_ms, m.tpot_ms, m.e2e_ms) if result.stream else (m.e2e_ms,):
                figures += [latency_cell(distribution, "p50"), latency_cell(distribution, "p99")]
    return figures


@pytest.mark.parametrize("big", [False, True], ids=["small-figures", "big-figures"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_every_table_fits_80_columns_with_its_figures_whole(
    two_target_result: BenchmarkResult, big: bool, stream: bool
) -> None:
    result = two_target_result
    result.stream = stream
    if big:
        for target in result.targets:
            for level in target.levels:
                level.metrics = _big(level.metrics)
        for index, comparison in enumerate(result.comparisons):
            a, b = (target.levels[index].metrics for target in result.targets)
            result.comparisons[index] = LevelComparison(comparison.level, compare_metrics(a, b))
    lines = render(result)
    assert max(len(line) for line in lines) <= WIDTH, "\n".join(lines)
    text = "\n".join(lines)
    assert "…" not in text
    for figure in key_figures(result):
        if figure != fmt.DASH:
            assert re.search(rf"(?<![\d,.]){re.escape(figure)}(?![\d,.])", text), (figure, text)
    assert ("TTFT" in text) if stream else ("TTFT" not in text.split("comparison")[0])


def test_long_latencies_read_in_seconds() -> None:
    assert latency_cell(Distribution.of([9_999.0]), "p50") == "9,999"
    assert latency_cell(Distribution.of([12_345.0]), "p50") == "12.3 s"
    assert latency_cell(Distribution.of([654_321.0]), "p50") == "654 s"
    assert latency_cell(None, "p50") == fmt.DASH
