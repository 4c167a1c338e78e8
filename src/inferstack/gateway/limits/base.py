"""The `KeyLimiter` interface: a key's budget, RPM and TPM checked before a request is forwarded and charged after.

Implementations register by name (`limits.backend: memory | redis`): `memory` counts in this process only (the
single-process default), `redis` counts in one Redis shared by every worker and replica. The budget refusal and
the per-request window helpers live here so both implementations refuse with the same words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from inferstack.core.errors import RateLimitError
from inferstack.gateway.keys.key_state import BudgetExceededError, KeyState

if TYPE_CHECKING:
    from inferstack.gateway.dependency_health import DependencyHealth
    from inferstack.gateway.settings import LimitsConfig

WINDOW_S = 60


class KeyLimiter:
    """Admits or refuses one request of a key (`admit`), then counts what it used (`charge`).

    `admit` raises `BudgetExceededError` (400), `RateLimitError` (429 with Retry-After) or, for a shared
    limiter that cannot be reached and is configured to fail closed, `LimiterUnavailableError` (503)."""

    name: ClassVar[str]
    _registry: ClassVar[dict[str, type[KeyLimiter]]] = {}
    description: str = "this process"
    health: DependencyHealth | None = None  # None for the in-process limiter, which cannot go away

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        KeyLimiter._registry[cls.name] = cls

    @classmethod
    def create(cls, config: LimitsConfig, fallback_redis_url: str | None = None) -> KeyLimiter:
        """The limiter `config.backend` names; ValueError naming the known ones otherwise."""
        try:
            chosen = cls._registry[config.backend]
        except KeyError:
            raise ValueError(f"unknown limits backend '{config.backend}'; known: {', '.join(cls.names())}") from None
        return chosen.from_config(config, fallback_redis_url)

    @classmethod
    def names(cls) -> list[str]:
        return sorted(cls._registry)

    @classmethod
    def from_config(cls, config: LimitsConfig, fallback_redis_url: str | None) -> KeyLimiter:
        raise NotImplementedError

    async def admit(self, state: KeyState, now: float) -> None:
        raise NotImplementedError

    def charge(self, state: KeyState, tokens: int, spend: float) -> None:
        """Count a finished request's tokens and cost; never blocks the request (a shared limiter sends it behind)."""
        raise NotImplementedError

    @property
    def pending_charges(self) -> int:
        """Charges waiting to be counted where `admit` reads them (0 for the in-process limiter)."""
        return 0

    async def settle(self) -> None:
        """Wait until every charge made so far is counted where `admit` reads it (tests, shutdown)."""
        return None

    async def ping(self) -> bool:
        """Whether the backend answers now (checked once at start)."""
        return True

    async def close(self) -> None:
        return None


def budget_refusal(state: KeyState, spend: float) -> BudgetExceededError:
    record = state.record
    reset = f"; the budget resets at {record.budget_reset_at:.0f} (epoch s)" if record.budget_reset_at else ""
    return BudgetExceededError(
        f"budget exceeded: spend ${spend:.6f} of max_budget ${record.max_budget or 0:.6f}{reset}"
    )


def rpm_refusal(limit: int, wait_s: float) -> RateLimitError:
    return RateLimitError(f"rate limit: {limit} requests per minute", retry_after=max(1.0, wait_s))


def tpm_refusal(limit: int, wait_s: float) -> RateLimitError:
    return RateLimitError(f"rate limit: {limit} tokens per minute", retry_after=max(1.0, wait_s), code="tpm_exceeded")


def budget_applies(state: KeyState, now: float) -> bool:
    """A budget is set and its period has not ended (an ended period's spend is reset by the next sync)."""
    record = state.record
    return record.max_budget is not None and not record.budget_period_over(now)
