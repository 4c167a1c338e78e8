"""A deployment's runtime state: in-flight count, latency, failures, cool-down, health, and its own limits.

Every `now` here is a reading of the router's one clock (`routing/clock.py`, monotonic seconds).
"""

from __future__ import annotations

import re
import time

from inferstack.gateway.rolling_window import RollingWindow
from inferstack.gateway.settings import DeploymentConfig

_LATENCY_ALPHA = 0.2


class Deployment:
    __slots__ = (
        "config",
        "consecutive_failures",
        "cooldown_until",
        "healthy",
        "id",
        "in_flight",
        "last_error",
        "last_error_at",
        "latency_s",
        "pattern",
        "requests",
        "tokens",
        "upstream_auth",
    )

    def __init__(self, config: DeploymentConfig, deployment_id: str) -> None:
        self.config = config
        self.id = deployment_id
        self.in_flight = 0
        self.latency_s: float | None = None
        self.consecutive_failures = 0
        self.cooldown_until = 0.0
        self.healthy = True
        self.last_error: str | None = None
        self.last_error_at: float | None = None  # wall-clock seconds, so a reader can tell an old error from a new one
        self.requests = RollingWindow()
        self.tokens = RollingWindow()
        key = config.api_key.get_secret_value() if config.api_key else None
        self.upstream_auth = f"Bearer {key}" if key else None
        self.pattern = model_pattern(config.model_name)

    def upstream_model(self, requested: str) -> str:
        """The model id sent upstream. For a wildcard model_name (LiteLLM's pattern routing) each `*` of the
        upstream model takes the text its `*` matched in the requested name (`openai/*` + `openai/gpt-4o` →
        `gpt-4o`); with more wildcards in the name than in the model, the requested name goes up as it is."""
        model = self.config.model
        if self.pattern is None or "*" not in model:
            return model
        match = self.pattern.fullmatch(requested)
        if match is None:
            return model
        segments = match.groups()
        if len(segments) > model.count("*"):
            return requested
        for segment in segments:
            model = model.replace("*", segment, 1)
        return model

    def cooling_down(self, now: float) -> bool:
        return now < self.cooldown_until

    def usable(self, now: float) -> bool:
        """Healthy, not cooling down, and under its own parallelism and RPM/TPM limits."""
        if not self.healthy or now < self.cooldown_until:
            return False
        config = self.config
        if config.max_parallel_requests is not None and self.in_flight >= config.max_parallel_requests:
            return False
        if config.rpm is not None and self.requests.total(now) >= config.rpm:
            return False
        return not (config.tpm is not None and self.tokens.total(now) >= config.tpm)

    def started(self, now: float) -> None:
        self.in_flight += 1
        self.requests.add(1, now)

    def succeeded(self, latency_s: float) -> None:
        self.in_flight -= 1
        self.consecutive_failures = 0
        self.latency_s = (
            latency_s
            if self.latency_s is None
            else (_LATENCY_ALPHA * latency_s + (1 - _LATENCY_ALPHA) * self.latency_s)
        )

    def failed(self, reason: str, now: float, *, allowed_fails: int, cooldown_s: float) -> bool:
        """Record a failure; returns True when this failure starts a cool-down (circuit opens)."""
        self.in_flight -= 1
        self.consecutive_failures += 1
        self.note_error(reason)
        if self.consecutive_failures >= allowed_fails and cooldown_s > 0:
            self.cooldown_until = now + cooldown_s
            self.consecutive_failures = 0
            return True
        return False

    def note_error(self, reason: str) -> None:
        """The newest failure's reason and when it happened."""
        self.last_error, self.last_error_at = reason, time.time()

    def finished_without_verdict(self) -> None:
        """The attempt ended for a reason that says nothing about the deployment (client left, 4xx)."""
        self.in_flight -= 1

    def status(self, now: float) -> dict[str, object]:
        return {
            "id": self.id,
            "model": self.config.model,
            "api_base": self.config.api_base,
            "mode": self.config.mode,
            "healthy": self.healthy,
            "cooling_down_s": round(max(0.0, self.cooldown_until - now), 3),
            "in_flight": self.in_flight,
            "latency_ms": None if self.latency_s is None else round(self.latency_s * 1000, 3),
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


def model_pattern(model_name: str) -> re.Pattern[str] | None:
    """A model_name with `*` as a regular expression (each `*` a group), or None for an exact name."""
    if "*" not in model_name:
        return None
    return re.compile("(.*)".join(re.escape(part) for part in model_name.split("*")))
