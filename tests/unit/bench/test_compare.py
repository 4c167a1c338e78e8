"""Compare mode: the A-B-B-A block split and the B-against-A differences and ratios."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inferstack.bench.compare import Block, abba_blocks, compare_metrics
from inferstack.bench.metrics import Distribution, summarise
from inferstack.bench.settings import Slo


def test_request_count_is_split_into_abba_halves_with_the_same_indices() -> None:
    assert abba_blocks(10, None) == [
        Block(0, 0, 5, None),
        Block(1, 0, 5, None),
        Block(1, 5, 5, None),
        Block(0, 5, 5, None),
    ]
    assert abba_blocks(5, None) == [
        Block(0, 0, 3, None),
        Block(1, 0, 3, None),
        Block(1, 3, 2, None),
        Block(0, 3, 2, None),
    ]
    assert abba_blocks(1, None) == [Block(0, 0, 1, None), Block(1, 0, 1, None)]


def test_duration_is_split_into_four_half_blocks() -> None:
    blocks = abba_blocks(None, 10.0)
    assert [b.target for b in blocks] == [0, 1, 1, 0]
    assert all(b.duration_s == 5.0 for b in blocks)


def test_differences_and_ratios_are_b_against_a() -> None:
    base = summarise([], 1.0, Slo())
    a = replace(base, e2e_ms=Distribution.of([100.0]), request_throughput=50.0)
    b = replace(base, e2e_ms=Distribution.of([110.0]), request_throughput=40.0)
    rows = {row.metric: row for row in compare_metrics(a, b)}
    assert rows["e2e_p50"].difference == pytest.approx(10.0)
    assert rows["e2e_p50"].ratio == pytest.approx(1.1)
    assert rows["request_throughput"].difference == pytest.approx(-10.0)
    assert rows["request_throughput"].ratio == pytest.approx(0.8)
    assert rows["error_rate"].ratio is None  # 0 / 0
    assert "ttft_p50" not in rows and "goodput" not in rows  # measured by neither side
