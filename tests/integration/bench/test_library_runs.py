"""`run_benchmark` against real upstream processes over HTTP: streaming and not, rate mode, sweeps,
compare mode, and every kind of failure classified by type."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from inferstack.bench.benchmark import run_benchmark
from inferstack.bench.load_level import UNREACHABLE_AFTER
from inferstack.bench.results import BenchmarkResult
from inferstack.bench.settings import BenchSettings
from tests.support.processes import RunningProcess, free_port


def settings(url: str, model: str = "fake-model", **overrides: Any) -> BenchSettings:
    options: dict[str, Any] = {
        "target": {"label": "A", "url": url, "model": model},
        "load": {"levels": (1, 2), "requests": 6},
        "workload": {"output_tokens": 8},
        "ceiling": {"enabled": False},
    }
    for key, value in overrides.items():
        options[key] = {**options.get(key, {}), **value} if isinstance(value, dict) else value
    return BenchSettings.model_validate(options)


async def run(s: BenchSettings) -> BenchmarkResult:
    return await run_benchmark(s)


async def test_streaming_run_measures_ttft_itl_and_usage_tokens(fake_upstream: RunningProcess) -> None:
    result = await run(settings(fake_upstream.base_url, slo={"ttft_ms": 60_000, "tpot_ms": 60_000}))
    assert not result.partial and [lv.level for lv in result.targets[0].levels] == [1, 2]
    for level in result.targets[0].levels:
        m = level.metrics
        assert (m.requests, m.successes, m.errors) == (6, 6, {})
        assert m.ttft_ms is not None and m.ttft_ms.min > 0
        assert m.itl_ms is not None and m.itl_ms.count == 6 * 7 and m.itl_ms.mean > 0
        assert m.tpot_ms is not None and m.tpot_ms.p50 > 0
        assert (m.tokens.completion, m.tokens.prompt, m.tokens.from_usage) == (48, 30, 6)
        assert m.goodput == pytest.approx(m.request_throughput)


async def test_without_usage_the_stream_is_counted(fake_upstream: RunningProcess) -> None:
    result = await run(settings(fake_upstream.base_url, "fake-no-usage", load={"levels": (2,)}))
    m = result.targets[0].levels[0].metrics
    assert (m.tokens.completion, m.tokens.from_stream, m.tokens.from_usage) == (48, 6, 0)


async def test_non_streaming_run_has_latency_and_tokens_but_no_ttft(fake_upstream: RunningProcess) -> None:
    result = await run(settings(fake_upstream.base_url, workload={"stream": False}, load={"levels": (2,)}))
    m = result.targets[0].levels[0].metrics
    assert m.successes == 6 and m.ttft_ms is None and m.itl_ms is None
    assert m.e2e_ms is not None and m.e2e_ms.min > 0 and m.tokens.completion == 48


async def test_poisson_rate_mode_records_schedule_lag(fake_upstream: RunningProcess) -> None:
    s = settings(fake_upstream.base_url, load={"mode": "rate", "levels": (50,), "arrival": "poisson", "requests": 10})
    m = (await run(s)).targets[0].levels[0].metrics
    assert m.successes == 10 and m.schedule_lag_ms is not None and m.schedule_lag_ms.count == 10


async def test_duration_mode_and_warmup(fake_upstream: RunningProcess) -> None:
    s = settings(fake_upstream.base_url, load={"levels": (2,), "requests": None, "duration_s": 0.3, "warmup": 2})
    result = await run(s)
    assert result.targets[0].warmup_errors == {}
    assert result.targets[0].levels[0].metrics.successes > 0


async def test_compare_mode_runs_both_targets_on_the_same_requests(
    fake_upstream: RunningProcess, null_upstream: RunningProcess
) -> None:
    s = settings(
        fake_upstream.base_url,
        compare={"label": "B", "url": null_upstream.base_url, "model": "null"},
        load={"levels": (1, 2), "requests": 5},
    )
    result = await run(s)
    assert [t.label for t in result.targets] == ["A", "B"]
    for target in result.targets:
        assert [lv.metrics.successes for lv in target.levels] == [5, 5]
    assert [c.level for c in result.comparisons] == [1, 2]
    rows = {row.metric: row for row in result.comparisons[0].rows}
    e2e = rows["e2e_p50"]
    assert e2e.a is not None and e2e.b is not None and e2e.difference == pytest.approx(e2e.b - e2e.a)
    assert e2e.ratio == pytest.approx(e2e.b / e2e.a)
    assert rows["ttft_p50"].a is not None and rows["ttft_p50"].b is not None


async def test_sweep_stops_and_reports_a_knee(null_upstream: RunningProcess) -> None:
    s = settings(
        null_upstream.base_url,
        "null",
        load={"levels": (1,), "requests": 200},
        sweep={"enabled": True, "max_level": 16},
    )
    result = await run(s)
    target = result.targets[0]
    assert target.sweep is not None and target.sweep.stop_reason
    assert target.sweep.knee is not None and target.sweep.knee in [lv.level for lv in target.levels]
    assert [lv.level for lv in target.levels] == [2.0**i for i in range(len(target.levels))]
    assert target.levels[-1].level <= 16


@pytest.mark.parametrize(
    ("model", "error_type"),
    [
        ("fake-unauthorized", "http_401"),
        ("fake-html", "invalid_response"),
        ("fake-slow", "timeout"),
        ("fake-stream-error", "stream_error"),
        ("fake-cut-stream", "disconnected"),
    ],
)
async def test_failures_are_counted_by_type(fake_upstream: RunningProcess, model: str, error_type: str) -> None:
    s = settings(fake_upstream.base_url, model, load={"levels": (2,), "requests": 2}, timeouts={"request_s": 0.5})
    result = await run(s)
    m = result.targets[0].levels[0].metrics
    assert m.errors == {error_type: 2} and m.successes == 0
    assert m.error_examples[error_type]
    assert not result.any_success


async def test_the_api_key_is_sent_as_a_bearer_token(fake_upstream: RunningProcess) -> None:
    without = await run(settings(fake_upstream.base_url, "fake-needs-key", load={"levels": (1,), "requests": 2}))
    assert without.targets[0].levels[0].metrics.errors == {"http_401": 2}
    s = settings(fake_upstream.base_url, "fake-needs-key", load={"levels": (1,), "requests": 2})
    with_key = await run(s.model_copy(update={"target": s.target.model_copy(update={"api_key": SecretStr("sk-fake")})}))
    assert with_key.targets[0].levels[0].metrics.successes == 2


async def test_an_unreachable_target_is_given_up_quickly() -> None:
    s = settings(f"http://127.0.0.1:{free_port()}", load={"levels": (1, 2, 4), "requests": 100})
    result = await run(s)
    levels = result.targets[0].levels
    assert len(levels) == 1 and levels[0].unreachable
    assert levels[0].metrics.errors == {"connect_error": UNREACHABLE_AFTER}
    assert any("unreachable" in w for w in result.warnings)


async def test_a_level_where_everything_failed_ends_the_run(fake_upstream: RunningProcess) -> None:
    result = await run(settings(fake_upstream.base_url, "fake-unauthorized", load={"levels": (1, 2, 4)}))
    assert len(result.targets[0].levels) == 1
    assert any("every request at level 1 failed" in w for w in result.warnings)


async def test_a_compare_target_that_fails_every_request_ends_the_run(
    fake_upstream: RunningProcess, null_upstream: RunningProcess
) -> None:
    s = settings(
        null_upstream.base_url,
        "null",
        compare={"label": "gateway", "url": fake_upstream.base_url, "model": "fake-unauthorized"},
        load={"levels": (1, 2, 4), "requests": 4},
    )
    result = await run(s)
    assert [len(t.levels) for t in result.targets] == [1, 1]
    assert result.targets[0].levels[0].metrics.successes == 4
    assert any("every request to gateway at level 1 failed" in w for w in result.warnings)


async def test_a_client_near_its_ceiling_is_warned_about(null_upstream: RunningProcess) -> None:
    from inferstack.bench.calibrate import ClientCeiling, ModeCeiling

    tiny = ModeCeiling(requests_per_s=1.0, requests=1, errors=0, client_cpu=1.0, server_cpu=0.0)
    ceiling = ClientCeiling(tiny, tiny, 16, 1, 1.0, "", "", "", "", 1)
    result = await run_benchmark(settings(null_upstream.base_url, "null", load={"levels": (1,)}), ceiling=ceiling)
    assert any("calibrated capacity" in w for w in result.warnings)
