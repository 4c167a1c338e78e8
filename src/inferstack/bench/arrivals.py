"""Open-loop arrival schedules: when each request of a fixed-rate level is due, as seconds from its start.

`constant` spaces requests exactly 1/rate apart; `poisson` draws exponential gaps with mean 1/rate from
a seeded generator, so the same seed replays the same schedule.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from inferstack.bench.settings import Arrival


def arrival_offsets(rate: float, arrival: Arrival, *, seed: int) -> Iterator[float]:
    """Endless due times: the first request at 0, then one gap per request."""
    if rate <= 0:
        raise ValueError("the request rate must be positive")
    if arrival == "constant":
        index = 0
        while True:
            yield index / rate
            index += 1
    rng = random.Random(f"arrivals-{seed}-{rate}")  # noqa: S311 (reproducible load, not secrets)
    due = 0.0
    while True:
        yield due
        due += rng.expovariate(rate)
