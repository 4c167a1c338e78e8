"""`MemoryLimiter` (`limits.backend: memory`, the default): budget, RPM and TPM counted in this process only.

With several workers or replicas each one enforces the whole limit on its own share of the traffic, so together
they admit up to N times the limit; use the redis limiter there (docs/gateway.md, Running several replicas).
"""

from __future__ import annotations

import time

from inferstack.gateway.keys.key_state import KeyState
from inferstack.gateway.limits.base import (
    KeyLimiter,
    budget_applies,
    budget_refusal,
    rpm_refusal,
    tpm_refusal,
)
from inferstack.gateway.settings import LimitsConfig


class MemoryLimiter(KeyLimiter):
    name = "memory"

    @classmethod
    def from_config(cls, config: LimitsConfig, fallback_redis_url: str | None) -> MemoryLimiter:
        return cls()

    async def admit(self, state: KeyState, now: float) -> None:
        self.check(state, now)

    def check(self, state: KeyState, now: float) -> None:
        """The whole check without awaiting: admitted requests are counted in the key's local window."""
        record = state.record
        if budget_applies(state, now) and state.spend >= (record.max_budget or 0.0):
            raise budget_refusal(state, state.spend)
        if record.rpm_limit is not None and state.requests.total(now) >= record.rpm_limit:
            raise rpm_refusal(record.rpm_limit, state.requests.seconds_until_below(record.rpm_limit, now))
        if record.tpm_limit is not None and state.tokens.total(now) >= record.tpm_limit:
            raise tpm_refusal(record.tpm_limit, state.tokens.seconds_until_below(record.tpm_limit, now))
        state.requests.add(1, now)

    def charge(self, state: KeyState, tokens: int, spend: float) -> None:
        if tokens:
            state.tokens.add(tokens, time.time())
