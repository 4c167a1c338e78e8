"""A synthetic two-target benchmark result, for report and summary tests that need no network."""

from __future__ import annotations

import pytest

from inferstack.bench.calibrate import ClientCeiling, ModeCeiling
from inferstack.bench.compare import compare_metrics
from inferstack.bench.metrics import summarise
from inferstack.bench.records import RequestRecord
from inferstack.bench.results import BenchmarkResult, LevelComparison, LevelResult, TargetResult
from inferstack.bench.settings import Slo
from inferstack.bench.sweep import SweepOutcome


def _records(level: float, slowdown: float) -> list[RequestRecord]:
    records = []
    for i in range(10):
        start = i * 0.1
        ttft = 0.05 * level * slowdown
        chunks = [start + ttft + k * 0.01 for k in range(8)]
        records.append(
            RequestRecord(
                start=start,
                end=chunks[-1] + 0.001,
                first_token=chunks[0],
                chunk_times=chunks,
                prompt_tokens=20,
                completion_tokens=8,
                tokens_from_usage=True,
            )
        )
    records.append(RequestRecord(start=0.0, end=0.5, error="http_401", error_detail="HTTP 401: <b>no</b>"))
    return records


@pytest.fixture
def two_target_result() -> BenchmarkResult:
    slo = Slo(ttft_ms=120)
    result = BenchmarkResult(
        mode="concurrency",
        stream=True,
        settings={"target": {"url": "http://a", "api_key": "**********"}},
        started_at="2025-01-01T00:00:00+00:00",
        finished_at="2025-01-01T00:01:00+00:00",
        ceiling=ClientCeiling(
            non_stream=ModeCeiling(9000.0, 45000, 0, 0.95, 0.2),
            stream=ModeCeiling(5000.0, 25000, 0, 0.97, 0.1),
            stream_tokens=16,
            concurrency=32,
            duration_s=5.0,
            measured_at="2025-01-01T00:00:00+00:00",
            python="3.11",
            aiohttp="3",
            event_loop="uvloop",
            cpu_count=2,
        ),
        warnings=["B at level 4: something to look at"],
    )
    for label, slowdown in (("direct", 1.0), ("gateway <script>", 1.2)):
        target = TargetResult(label=label, url="http://127.0.0.1:1", model="m")
        for level in (1.0, 2.0, 4.0):
            records = _records(level, slowdown)
            target.levels.append(LevelResult(level, summarise(records, 2.0, slo), records=records))
        target.sweep = SweepOutcome(knee=2.0, best_level=4.0, best_throughput=5.0, stop_reason="flat")
        result.targets.append(target)
    for index, level in enumerate((1.0, 2.0, 4.0)):
        a, b = result.targets[0].levels[index].metrics, result.targets[1].levels[index].metrics
        result.comparisons.append(LevelComparison(level=level, rows=compare_metrics(a, b)))
    return result
