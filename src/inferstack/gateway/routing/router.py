"""The router: picks deployments by policy, retries with backoff, falls back to other models, cools down failures.

`run()` takes an `attempt` coroutine function so the same loop serves JSON calls and streams; an attempt
raises `UpstreamFailure` for anything worth another try and anything else to stop at once. All routing state
(rate windows, cool-downs) is kept on one injected monotonic clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from inferstack.core.errors import ModelNotFoundError, OverloadedError, RateLimitError, UpstreamError
from inferstack.gateway.routing.clock import Clock, monotonic
from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.routing.policies import RoutingPolicy
from inferstack.gateway.settings import DeploymentConfig, RouterConfig
from inferstack.gateway.upstreams.base import UpstreamFailure

log = logging.getLogger(__name__)
T = TypeVar("T")


class NoHealthyDeploymentError(OverloadedError):
    default_code = "no_healthy_deployment"


class AllUpstreamsFailedError(UpstreamError):
    default_code = "upstream_failed"


class UpstreamsUnreachableError(OverloadedError):
    """Every attempt failed to connect, lost the connection or was told 503: the model servers are down or
    restarting (or still loading)."""

    default_code = "upstream_unreachable"


FailureHook = Callable[[Deployment, UpstreamFailure, bool], None]


class Router:
    def __init__(
        self,
        deployments: Sequence[DeploymentConfig],
        config: RouterConfig,
        *,
        rng: random.Random | None = None,
        on_failure: FailureHook | None = None,
        clock: Clock = monotonic,
    ) -> None:
        self.config = config
        self.clock = clock
        self.policy = RoutingPolicy.create(config.policy, rng)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._on_failure = on_failure
        self.by_model: dict[str, list[Deployment]] = {}
        for index, deployment in enumerate(deployments):
            deployment_id = deployment.id or f"{deployment.model_name}#{index}"
            self.by_model.setdefault(deployment.model_name, []).append(Deployment(deployment, deployment_id))
        # Wildcard model_names, most specific (longest literal text) first, as LiteLLM's pattern router orders them.
        self.patterns = sorted(
            ((group[0].pattern, name) for name, group in self.by_model.items() if group[0].pattern is not None),
            key=lambda item: (-len(item[1].replace("*", "")), item[1].count("*")),
        )
        unknown = {m for targets in config.fallbacks.values() for m in targets if m not in self.by_model}
        if unknown:
            raise ValueError(f"fallbacks name unknown models: {sorted(unknown)}")

    @property
    def models(self) -> list[str]:
        return sorted(self.by_model)

    def all_deployments(self) -> list[Deployment]:
        return [d for group in self.by_model.values() for d in group]

    def require_model(self, model: str) -> None:
        self.resolve(model)

    def resolve(self, model: str) -> str:
        """The model_name that serves a requested model: the same name, else the first wildcard it matches."""
        if model in self.by_model:
            return model
        for pattern, name in self.patterns:
            if pattern is not None and pattern.fullmatch(model):
                return name
        raise ModelNotFoundError(f"model '{model}' does not exist", param="model")

    def serves(self, model: str) -> bool:
        try:
            self.resolve(model)
        except ModelNotFoundError:
            return False
        return True

    def _pick(self, model: str, tried: set[str], now: float) -> Deployment | None:
        usable = [d for d in self.by_model[model] if d.usable(now)]
        if not usable:
            return None
        fresh = [d for d in usable if d.id not in tried]
        return self.policy.choose(fresh or usable)

    async def run(
        self, model: str, attempt: Callable[[Deployment], Awaitable[T]], *, hold: bool = False
    ) -> tuple[Deployment, T]:
        """Run `attempt` on deployments of `model`, then of its fallbacks, until one succeeds.

        With `hold`, a successful deployment keeps its in-flight slot until the caller calls `release()`.
        """
        failures: list[str] = []
        unreachable = True
        rate_limited = False
        for candidate_model in (model, *self.config.fallbacks.get(model, ())):
            tried: set[str] = set()
            for attempt_number in range(self.config.num_retries + 1):
                now = self.clock()
                deployment = self._pick(candidate_model, tried, now)
                if deployment is None:
                    rate_limited = rate_limited or self._only_rate_limited(candidate_model, now)
                    break
                if attempt_number:
                    await asyncio.sleep(self._backoff(attempt_number))
                tried.add(deployment.id)
                deployment.started(now)
                started = time.perf_counter()
                try:
                    result = await attempt(deployment)
                except UpstreamFailure as failure:
                    opened = deployment.failed(
                        failure.summary,
                        self.clock(),
                        allowed_fails=self.config.allowed_fails,
                        cooldown_s=self.config.cooldown_s,
                    )
                    failures.append(f"{deployment.id}: {failure.summary}")
                    unreachable = unreachable and (failure.kind == "connect" or failure.status == 503)
                    if opened:
                        log.warning(
                            "deployment %s cooling down for %gs after: %s",
                            deployment.id,
                            self.config.cooldown_s,
                            failure.summary,
                        )
                    if self._on_failure is not None:
                        self._on_failure(deployment, failure, opened)
                    continue
                except BaseException:
                    deployment.finished_without_verdict()
                    raise
                if not hold:
                    deployment.succeeded(time.perf_counter() - started)
                return deployment, result
        if failures and unreachable:
            summary = "; ".join(failures[-4:])
            raise UpstreamsUnreachableError(f"no model server for '{model}' is reachable: {summary}", retry_after=1.0)
        if failures:
            raise AllUpstreamsFailedError(f"every attempt for model '{model}' failed: {'; '.join(failures[-4:])}")
        if rate_limited:
            raise RateLimitError(f"every deployment of model '{model}' is at its rate limit", retry_after=1.0)
        raise NoHealthyDeploymentError(f"no healthy deployment for model '{model}'", retry_after=1.0)

    @staticmethod
    def release(deployment: Deployment, latency_s: float, *, ok: bool) -> None:
        if ok:
            deployment.succeeded(latency_s)
        else:
            deployment.finished_without_verdict()

    def count_tokens(self, deployment: Deployment, tokens: int) -> None:
        """Count a finished request's tokens against the deployment's TPM window."""
        if tokens:
            deployment.tokens.add(tokens, self.clock())

    def _backoff(self, attempt_number: int) -> float:
        base: float = self.config.retry_backoff_s * (2 ** (attempt_number - 1))
        return base * (0.5 + self._rng.random())

    def _only_rate_limited(self, model: str, now: float) -> bool:
        group = self.by_model[model]
        return any(d.healthy and not d.cooling_down(now) for d in group)

    def health(self) -> dict[str, list[dict[str, object]]]:
        now = self.clock()
        return {model: [d.status(now) for d in group] for model, group in self.by_model.items()}

    def ready(self) -> bool:
        now = self.clock()
        return all(any(d.healthy and not d.cooling_down(now) for d in group) for group in self.by_model.values())
