"""Virtual key and usage records, key generation, and the digest that is all the store ever keeps."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

KEY_PREFIX = "sk-"
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_token(key: str) -> str:
    """The SHA-256 hex digest that identifies a key everywhere (store, logs, admin API)."""
    return hashlib.sha256(key.encode()).hexdigest()


def display_name(key: str) -> str:
    return f"{KEY_PREFIX}...{key[-4:]}"


def parse_duration(text: str) -> float:
    """'30s', '15m', '12h', '30d' → seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"duration '{text}' must look like 30s, 15m, 12h or 30d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass(frozen=True)
class VirtualKey:
    token: str
    key_name: str
    key_alias: str | None = None
    models: tuple[str, ...] = ()
    max_budget: float | None = None
    spend: float = 0.0
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    expires_at: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    guardrails: tuple[str, ...] = ()
    revoked: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0
    budget_duration: str | None = None
    budget_reset_at: float | None = None
    max_parallel_requests: int | None = None
    user_id: str | None = None
    team_id: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)

    def allows_model(self, model: str) -> bool:
        return not self.models or model in self.models or "*" in self.models

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def budget_period_over(self, now: float) -> bool:
        """The budget's period has ended (its spend is reset by the next sync; until then it does not count)."""
        return self.budget_reset_at is not None and now >= self.budget_reset_at

    def public(self) -> dict[str, Any]:
        """What the admin API shows: never the key itself, only its digest and display name."""
        return {
            "token": self.token,
            "key_name": self.key_name,
            "key_alias": self.key_alias,
            "models": list(self.models),
            "max_budget": self.max_budget,
            "spend": self.spend,
            "rpm_limit": self.rpm_limit,
            "tpm_limit": self.tpm_limit,
            "expires": self.expires_at,
            "metadata": self.metadata,
            "guardrails": list(self.guardrails),
            "revoked": self.revoked,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "budget_duration": self.budget_duration,
            "budget_reset_at": self.budget_reset_at,
            "max_parallel_requests": self.max_parallel_requests,
            "user_id": self.user_id,
            "team_id": self.team_id,
            "aliases": self.aliases,
        }


def next_budget_reset(reset_at: float, duration: str, now: float) -> float:
    """The first reset time after `now` on the key's schedule (missed periods are skipped, not replayed)."""
    period = parse_duration(duration)
    if period <= 0:
        raise ValueError("budget_duration must be longer than 0s")
    missed = max(0, int((now - reset_at) // period) + 1)
    return reset_at + missed * period


@dataclass(frozen=True)
class UsageRecord:
    request_id: str
    token: str
    model: str
    deployment: str | None
    prompt_tokens: int
    completion_tokens: int
    spend: float
    cache_hit: bool
    status: int
    started_at: float
    duration_ms: float

    def public(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "token": self.token,
            "model": self.model,
            "deployment": self.deployment,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "spend": self.spend,
            "cache_hit": self.cache_hit,
            "status": self.status,
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
        }
