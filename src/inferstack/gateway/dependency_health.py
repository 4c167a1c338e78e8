"""Whether each external dependency of the gateway (the key database, the Redis cache) answers right now.

A dependency is marked down by the first call that cannot reach it and up by the first that can; each
transition is logged once (an error going down, a warning coming back), never per request. `/health/readiness`
shows the detail and `/metrics` has `inferstack_gateway_dependency_up{dependency=...}`.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class DependencyHealth:
    """Up/down state of one dependency, with what the gateway does without it (`degraded` says it)."""

    def __init__(self, name: str, description: str, *, degraded: str) -> None:
        self.name = name
        self.description = description  # never carries a password: callers pass host:port or a path
        self.degraded = degraded
        self.up = True
        self.since = time.time()
        self.last_error: str | None = None
        self.outages = 0

    def mark_down(self, error: str) -> None:
        self.last_error = error
        if not self.up:
            return
        self.up = False
        self.since = time.time()
        self.outages += 1
        log.error("%s (%s) unavailable: %s; running without it: %s", self.name, self.description, error, self.degraded)

    def mark_up(self) -> None:
        if self.up:
            return
        down_for = time.time() - self.since
        self.up = True
        self.since = time.time()
        log.warning("%s (%s) reachable again after %.1f s", self.name, self.description, down_for)

    def detail(self) -> dict[str, object]:
        body: dict[str, object] = {"up": self.up, "since": round(self.since, 3), "outages": self.outages}
        if not self.up:
            body["error"] = self.last_error
            body["running_without"] = self.degraded
        return body


class ProbeGate:
    """Whether to call a dependency now: always while it is up; while it is down, one probe call per
    `interval_s` (the others go without it at once), so a dependency that hangs or refuses adds no latency per
    request. The first call that fails marks it down, the first that answers marks it up again."""

    def __init__(self, health: DependencyHealth, *, interval_s: float = 1.0) -> None:
        self.health = health
        self._interval_s = interval_s
        self._next_probe = 0.0

    def up_or_probe_due(self) -> bool:
        """`may_call` without taking the probe (for a caller that hands the call to a sender who takes it)."""
        return self.health.up or time.monotonic() >= self._next_probe

    def may_call(self) -> bool:
        if self.health.up:
            return True
        now = time.monotonic()
        if now < self._next_probe:
            return False
        self._next_probe = now + self._interval_s
        return True

    def failed(self, exc: BaseException) -> None:
        self._next_probe = time.monotonic() + self._interval_s
        self.health.mark_down(type(exc).__name__)

    def answered(self) -> None:
        self.health.mark_up()
