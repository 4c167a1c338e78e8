"""Arrival schedules of rate mode: exact for constant, seeded and of the right mean for Poisson."""

from __future__ import annotations

from itertools import islice, pairwise

import pytest

from inferstack.bench.arrivals import arrival_offsets


def test_constant_arrivals_are_evenly_spaced_from_zero() -> None:
    assert list(islice(arrival_offsets(10, "constant", seed=0), 5)) == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_poisson_arrivals_replay_with_the_same_seed() -> None:
    first = list(islice(arrival_offsets(5, "poisson", seed=1), 100))
    assert first == list(islice(arrival_offsets(5, "poisson", seed=1), 100))
    assert first != list(islice(arrival_offsets(5, "poisson", seed=2), 100))
    assert first[0] == 0.0 and first == sorted(first)


def test_poisson_gaps_average_one_over_the_rate() -> None:
    n = 20_000
    offsets = list(islice(arrival_offsets(50, "poisson", seed=0), n + 1))
    gaps = [b - a for a, b in pairwise(offsets)]
    mean = sum(gaps) / n
    assert mean == pytest.approx(1 / 50, rel=0.03)
    variance = sum((g - mean) ** 2 for g in gaps) / n
    assert variance**0.5 == pytest.approx(mean, rel=0.05)  # exponential: standard deviation = mean


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        next(arrival_offsets(0, "constant", seed=0))
