"""A 60-second rolling counter in one-second buckets: exact to the second, O(buckets) to read, O(1) to add."""

from __future__ import annotations


class RollingWindow:
    """Counts events (requests, tokens) over the last `span_s` seconds."""

    __slots__ = ("_counts", "_seconds", "_span")

    def __init__(self, span_s: int = 60) -> None:
        self._span = span_s
        self._counts = [0] * span_s
        self._seconds = [-(10**9)] * span_s

    def add(self, amount: int, now: float) -> None:
        second = int(now)
        slot = second % self._span
        if self._seconds[slot] != second:
            self._seconds[slot] = second
            self._counts[slot] = 0
        self._counts[slot] += amount

    def total(self, now: float) -> int:
        oldest = int(now) - self._span
        return sum(c for c, s in zip(self._counts, self._seconds, strict=True) if s > oldest)

    def seconds_until_below(self, limit: int, now: float) -> float:
        """How long until the total drops below `limit` if nothing new is added (for Retry-After)."""
        second = int(now)
        live = sorted((s, c) for c, s in zip(self._counts, self._seconds, strict=True) if s > second - self._span)
        remaining = sum(c for _, c in live)
        for bucket_second, count in live:
            if remaining < limit:
                break
            remaining -= count
            if remaining < limit:
                return max(0.0, bucket_second + self._span - now)
        return 0.0 if remaining < limit else float(self._span)
