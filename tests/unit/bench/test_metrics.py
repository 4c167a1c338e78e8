"""Metric maths against hand-made timings whose answers are worked out in the comments."""

from __future__ import annotations

import random

import numpy as np
import pytest

from inferstack.bench.metrics import Distribution, e2e_s, itls_s, meets_slo, percentile, summarise, tpot_s, ttft_s
from inferstack.bench.records import RequestRecord
from inferstack.bench.settings import Slo


def streamed(start: float, chunks: list[float], end: float, tokens: int | None, *, usage: bool = True) -> RequestRecord:
    return RequestRecord(
        start=start,
        end=end,
        first_token=chunks[0] if chunks else None,
        chunk_times=chunks,
        prompt_tokens=10 if usage else None,
        completion_tokens=tokens,
        tokens_from_usage=usage,
    )


def test_percentile_interpolates_linearly_between_ranks() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)  # rank 1.5
    assert percentile(values, 90) == pytest.approx(3.7)  # rank 2.7
    assert percentile([7.0], 99) == 7.0


def test_percentile_matches_numpy_default_method() -> None:
    rng = random.Random(3)
    values = sorted(rng.uniform(0, 1000) for _ in range(257))
    for p in (1, 50, 90, 95, 99, 99.9):
        assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))


def test_percentile_rejects_empty_input_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


def test_distribution_of_known_values() -> None:
    d = Distribution.of([50.0, 10.0, 40.0, 20.0, 30.0])
    assert d is not None
    assert (d.count, d.mean, d.min, d.max) == (5, 30.0, 10.0, 50.0)
    assert d.p50 == pytest.approx(30.0)
    assert d.p90 == pytest.approx(46.0)  # rank 3.6: 40 + 0.6 * 10
    assert d.p95 == pytest.approx(48.0)
    assert d.p99 == pytest.approx(49.6)
    assert Distribution.of([]) is None


def test_per_request_ttft_tpot_itl_e2e() -> None:
    # Sent at 100.0; chunks at +0.2, +0.3, +0.5; last byte at +0.6; three completion tokens.
    record = streamed(100.0, [100.2, 100.3, 100.5], 100.6, 3)
    assert ttft_s(record) == pytest.approx(0.2)
    assert e2e_s(record) == pytest.approx(0.6)
    assert tpot_s(record) == pytest.approx(0.2)  # (0.6 - 0.2) / (3 - 1)
    assert itls_s(record) == pytest.approx([0.1, 0.2])


def test_tpot_needs_a_stream_and_two_tokens() -> None:
    assert tpot_s(streamed(0.0, [0.1], 0.2, 1)) is None
    assert tpot_s(RequestRecord(start=0.0, end=1.0, completion_tokens=10, tokens_from_usage=True)) is None


def test_summarise_counts_throughput_latency_and_errors() -> None:
    records = [
        streamed(0.0, [0.2, 0.3, 0.5], 0.6, 3),  # TTFT 200 ms, TPOT 200 ms
        streamed(0.5, [0.8, 0.9, 1.0, 1.1, 1.2], 1.3, 5),  # TTFT 300 ms, TPOT 125 ms
        RequestRecord(start=1.0, end=2.0, error="timeout", error_detail="no complete answer within 1 s"),
    ]
    m = summarise(records, duration_s=2.0, slo=Slo())
    assert (m.requests, m.successes) == (3, 2)
    assert m.errors == {"timeout": 1}
    assert m.error_examples == {"timeout": "no complete answer within 1 s"}
    assert m.error_rate == pytest.approx(1 / 3)
    assert m.request_throughput == pytest.approx(1.0)  # 2 successes / 2 s
    assert m.output_token_throughput == pytest.approx(4.0)  # (3 + 5) tokens / 2 s
    assert m.total_token_throughput == pytest.approx(14.0)  # (8 + 2 * 10 prompt) / 2 s
    assert (m.tokens.prompt, m.tokens.completion, m.tokens.from_usage) == (20, 8, 2)
    assert m.ttft_ms is not None and m.ttft_ms.mean == pytest.approx(250.0)
    assert m.tpot_ms is not None and m.tpot_ms.mean == pytest.approx(162.5)
    assert m.itl_ms is not None and m.itl_ms.count == 6
    assert m.itl_ms.p50 == pytest.approx(100.0)
    assert m.e2e_ms is not None and m.e2e_ms.max == pytest.approx(800.0)
    assert m.output_tokens_per_s_per_request is not None
    assert m.output_tokens_per_s_per_request.max == pytest.approx(6.25)  # 5 tokens / 0.8 s
    assert m.goodput is None and m.slo_attainment is None
    assert m.schedule_lag_ms is None


def test_goodput_counts_requests_meeting_every_slo() -> None:
    records = [
        streamed(0.0, [0.2, 0.3, 0.5], 0.6, 3),  # TTFT 200, TPOT 200
        streamed(0.0, [0.3, 0.4], 0.5, 2),  # TTFT 300, TPOT 200
        streamed(0.0, [0.1, 0.9], 1.0, 2),  # TTFT 100, TPOT 900
        RequestRecord(start=0.0, end=0.1, error="http_500"),
    ]
    m = summarise(records, duration_s=4.0, slo=Slo(ttft_ms=250, tpot_ms=500))
    assert m.goodput == pytest.approx(0.25)  # only the first: 1 request / 4 s
    assert m.slo_attainment == pytest.approx(0.25)  # 1 of 4, errors included
    assert summarise(records, 4.0, Slo(ttft_ms=250)).goodput == pytest.approx(0.5)


def test_without_a_stream_ttft_slo_is_judged_on_end_to_end_latency() -> None:
    fast = RequestRecord(start=0.0, end=0.2, completion_tokens=50, tokens_from_usage=True)
    slow = RequestRecord(start=0.0, end=0.4, completion_tokens=50, tokens_from_usage=True)
    slo = Slo(ttft_ms=300, tpot_ms=1)
    assert meets_slo(fast, slo) and not meets_slo(slow, slo)


def test_token_counts_distinguish_usage_stream_and_unknown() -> None:
    records = [
        streamed(0.0, [0.1, 0.2], 0.3, 2, usage=False),
        RequestRecord(start=0.0, end=0.3),  # non-streamed answer without usage
    ]
    m = summarise(records, 1.0, Slo())
    assert (m.tokens.from_usage, m.tokens.from_stream, m.tokens.unknown) == (0, 1, 1)
    assert m.output_token_throughput == pytest.approx(2.0)


def test_schedule_lag_comes_from_rate_mode_records() -> None:
    records = [RequestRecord(start=1.003, end=2.0, scheduled=1.0), RequestRecord(start=2.001, end=3.0, scheduled=2.0)]
    lag = summarise(records, 3.0, Slo()).schedule_lag_ms
    assert lag is not None and lag.max == pytest.approx(3.0) and lag.min == pytest.approx(1.0)


def test_empty_level_has_zero_rates_and_no_distributions() -> None:
    m = summarise([], 0.0, Slo(ttft_ms=100))
    assert (m.requests, m.request_throughput, m.error_rate) == (0, 0.0, 0.0)
    assert m.e2e_ms is None and m.goodput == 0.0 and m.slo_attainment is None
