"""Admission control: at most `slots + max_queue` generations in flight, the rest refused at once.

Refusing early (503 with Retry-After) keeps latency bounded under overload instead of letting an
unbounded queue grow inside the engine.
"""

from __future__ import annotations

from inferstack.core.errors import OverloadedError
from inferstack.observability.serving_metrics import ServingMetrics


class Admission:
    def __init__(self, *, slots: int, max_queue: int, metrics: ServingMetrics, retry_after_s: float = 1.0) -> None:
        self._slots = slots
        self._limit = slots + max_queue
        self._in_flight = 0
        self._metrics = metrics
        self._retry_after = retry_after_s
        metrics.slots_total.set(slots)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def slots(self) -> int:
        return self._slots

    def ticket(self) -> Ticket:
        """Take a place or raise `OverloadedError`; the caller must `release()` it (idempotent)."""
        if self._in_flight >= self._limit:
            self._metrics.rejected.inc()
            raise OverloadedError(
                f"all {self._slots} slots are busy and the queue is full; retry shortly",
                retry_after=self._retry_after,
            )
        self._in_flight += 1
        self._publish()
        return Ticket(self)

    def _release(self) -> None:
        self._in_flight -= 1
        self._publish()

    def _publish(self) -> None:
        self._metrics.publish_occupancy(min(self._in_flight, self._slots), max(0, self._in_flight - self._slots))


class Ticket:
    """One admitted request's place. Released exactly once, however the request ends."""

    __slots__ = ("_admission",)

    def __init__(self, admission: Admission) -> None:
        self._admission: Admission | None = admission

    def release(self) -> None:
        admission, self._admission = self._admission, None
        if admission is not None:
            admission._release()

    def __del__(self) -> None:
        self.release()
