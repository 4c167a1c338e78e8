"""The one clock routing state is read and written with: monotonic seconds, injectable so tests can move it.

Rate windows, cool-downs and health all compare readings of this clock; mixing it with wall time (which
can be far larger, or step backwards) made a window never expire.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]

monotonic: Clock = time.monotonic


class FakeClock:
    """A clock that moves only when told to (for tests and simulations)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
