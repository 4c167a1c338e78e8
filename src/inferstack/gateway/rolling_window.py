"""A 60-second rolling counter in one-second buckets: exact to the second, O(1) amortised to add and read."""

from __future__ import annotations


class RollingWindow:
    """Counts events (requests, tokens) over the last `span_s` seconds, keeping a running total."""

    __slots__ = ("_counts", "_latest", "_seconds", "_span", "_total")

    def __init__(self, span_s: int = 60) -> None:
        self._span = span_s
        self._counts = [0] * span_s
        self._seconds = [-(10**9)] * span_s
        self._latest = -(10**9)
        self._total = 0

    def _advance(self, now: float) -> int:
        """Move to second `now`, dropping buckets that fell out of the window; returns the current second."""
        second = int(now)
        if second <= self._latest:
            return self._latest  # a clock step backwards counts into the latest second
        if second - self._latest >= self._span:
            self._counts = [0] * self._span
            self._seconds = [-(10**9)] * self._span
            self._total = 0
        else:
            for passing in range(self._latest + 1, second + 1):
                slot = passing % self._span
                self._total -= self._counts[slot]
                self._counts[slot] = 0
                self._seconds[slot] = passing
        self._latest = second
        self._seconds[second % self._span] = second
        return second

    def add(self, amount: int, now: float) -> None:
        second = self._advance(now)
        self._counts[second % self._span] += amount
        self._total += amount

    def total(self, now: float) -> int:
        self._advance(now)
        return self._total

    def seconds_until_below(self, limit: int, now: float) -> float:
        """How long until the total drops below `limit` if nothing new is added (for Retry-After)."""
        second = self._advance(now)
        live = sorted((s, c) for c, s in zip(self._counts, self._seconds, strict=True) if s > second - self._span)
        remaining = self._total
        for bucket_second, count in live:
            if remaining < limit:
                break
            remaining -= count
            if remaining < limit:
                return max(0.0, bucket_second + self._span - now)
        return 0.0 if remaining < limit else float(self._span)
