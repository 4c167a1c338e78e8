"""What one process holds for a virtual key on the hot path: its record, unwritten spend, parallel requests in
flight and its local rate windows; and the budget refusal every limiter raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from inferstack.core.errors import InvalidRequestError
from inferstack.gateway.keys.records import VirtualKey
from inferstack.gateway.rolling_window import RollingWindow

MASTER_TOKEN = "master"  # noqa: S105 - the usage-log identity of the master key, not a secret
ANONYMOUS_TOKEN = "anonymous"  # noqa: S105 - usage-log identity when keys are not required


class BudgetExceededError(InvalidRequestError):
    default_code = "budget_exceeded"


@dataclass
class KeyState:
    """A key plus what this process has counted for it since the last sync."""

    record: VirtualKey
    unflushed_spend: float = 0.0
    in_flight: int = 0  # requests admitted and not yet finished, for max_parallel_requests
    requests: RollingWindow = field(default_factory=RollingWindow)
    tokens: RollingWindow = field(default_factory=RollingWindow)

    @property
    def token(self) -> str:
        return self.record.token

    @property
    def spend(self) -> float:
        return self.record.spend + self.unflushed_spend

    @property
    def is_master(self) -> bool:
        return self.record.token in {MASTER_TOKEN, ANONYMOUS_TOKEN}
