"""What one usage write carries: per-(key, model, time bucket) totals, a bounded sample of per-request rows,
and the batch id that makes the write idempotent (a retried batch is recognised and never applied twice)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from inferstack.gateway.keys.records import UsageRecord

TotalsKey = tuple[str, str, float]  # (token, model, bucket start in epoch seconds)


def bucket_start(started_at: float, bucket_s: float) -> float:
    return started_at - started_at % bucket_s


@dataclass
class UsageTotals:
    """Exact sums over every request of one key and model in one time bucket."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    spend: float = 0.0
    cache_hits: int = 0
    errors: int = 0

    def add(self, record: UsageRecord) -> None:
        self.requests += 1
        self.prompt_tokens += record.prompt_tokens
        self.completion_tokens += record.completion_tokens
        self.spend += record.spend
        self.cache_hits += int(record.cache_hit)
        self.errors += int(record.status >= 400)


@dataclass(frozen=True)
class UsageBatch:
    """Totals and detail rows cut from the writer at one moment; written in one transaction, exactly once."""

    totals: dict[TotalsKey, UsageTotals]
    rows: list[UsageRecord]
    batch_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.totals.values())

    def spend_by_key(self) -> dict[str, float]:
        per_key: dict[str, float] = {}
        for (token, _, _), totals in self.totals.items():
            per_key[token] = per_key.get(token, 0.0) + totals.spend
        return per_key
