"""The gateway's Prometheus metrics, on their own registry (one per app instance).

They cover what LiteLLM's (Enterprise) Prometheus metrics cover; docs/metrics.md maps one onto the other. Every
label value comes from the configuration (model names, deployment ids, at most `MAX_BUDGET_KEYS` keys) or from a
fixed set (status codes, error types): never from what a client sends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from inferstack.gateway.keys.registry import KeyRegistry
    from inferstack.gateway.routing.router import Router

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
_TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
MAX_BUDGET_KEYS = 200  # keys with a budget reported per scrape, those nearest their limit first
# deployment_state values, as LiteLLM's litellm_deployment_state (0 healthy, 1 partial outage, 2 complete outage)
STATE_HEALTHY, STATE_UNHEALTHY, STATE_COOLING_DOWN = 0, 1, 2
# OpenAI's error types by HTTP status: the error_type label of request failures (a fixed set).
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    499: "client_closed",
    500: "internal_error",
    502: "upstream_error",
    503: "overloaded",
    504: "timeout",
}


def error_type(status: int) -> str:
    """The bounded `error_type` label of a failed request's status."""
    return _ERROR_TYPES.get(status, "upstream_error" if status >= 500 else "invalid_request_error")


@dataclass(frozen=True, slots=True)
class DeploymentView:
    """What /metrics shows of one deployment at scrape time."""

    deployment: str
    model: str
    state: int  # STATE_*


@dataclass(frozen=True, slots=True)
class BudgetView:
    """What /metrics shows of one key with a budget at scrape time (`key`: its alias, else its id prefix)."""

    key: str
    max_budget: float
    spend: float


def deployment_views(router: Router) -> list[DeploymentView]:
    """Every configured deployment with its state now (bounded by the config)."""
    now = router.clock()
    views = []
    for model, group in router.by_model.items():
        for d in group:
            state = STATE_COOLING_DOWN if d.cooling_down(now) else STATE_HEALTHY if d.healthy else STATE_UNHEALTHY
            views.append(DeploymentView(d.id, model, state))
    return views


def budget_views(registry: KeyRegistry) -> list[BudgetView]:
    """Keys held by this process that have a budget, labelled by alias or by the first 12 hex digits of their id."""
    now = time.time()
    views = []
    for state in registry.held():
        record = state.record
        if record.max_budget is None or record.revoked or state.is_master:
            continue
        spend = state.unflushed_spend if record.budget_period_over(now) else state.spend
        views.append(BudgetView(record.key_alias or record.token[:12], record.max_budget, spend))
    return views


class _InFlight:
    """Requests in flight, read at scrape time under both the current and the earlier metric name."""

    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "inferstack_gateway_requests",
            "Requests by public model, deployment and status.",
            ["model", "deployment", "status"],
            registry=r,
        )
        self.http_requests = Counter(
            "inferstack_gateway_http_requests", "HTTP requests by route and status.", ["route", "status"], registry=r
        )
        self.http_seconds = Histogram(
            "inferstack_gateway_http_request_seconds",
            "HTTP request duration by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.latency = Histogram(
            "inferstack_gateway_request_seconds",
            "End-to-end request latency by model.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "inferstack_gateway_overhead_seconds",
            "Time the gateway itself added (total minus upstream time).",
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.upstream_latency = Histogram(
            "inferstack_gateway_upstream_seconds",
            "Upstream call duration by deployment.",
            ["deployment"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "inferstack_gateway_tokens", "Tokens by model and kind (prompt/completion).", ["model", "kind"], registry=r
        )
        self.spend = Counter("inferstack_gateway_spend_usd", "Cost in USD by model.", ["model"], registry=r)
        self.cache = Counter("inferstack_gateway_cache", "Response cache lookups by result.", ["result"], registry=r)
        self.upstream_errors = Counter(
            "inferstack_gateway_upstream_errors",
            "Failed upstream attempts by deployment and kind.",
            ["deployment", "kind"],
            registry=r,
        )
        self.cooldowns = Counter(
            "inferstack_gateway_cooldowns", "Deployments put in cool-down.", ["deployment"], registry=r
        )
        self.in_flight = _InFlight()
        Gauge(
            "inferstack_gateway_requests_in_flight", "Requests in flight through the gateway.", registry=r
        ).set_function(lambda: self.in_flight.value)
        Gauge(
            "inferstack_gateway_in_flight",
            "Requests in flight through the gateway (earlier name of inferstack_gateway_requests_in_flight).",
            registry=r,
        ).set_function(lambda: self.in_flight.value)
        self.failures = Counter(
            "inferstack_gateway_request_failures",
            "Requests that ended in an error, by model and OpenAI error type.",
            ["model", "error_type"],
            registry=r,
        )
        self.ttft = Histogram(
            "inferstack_gateway_time_to_first_token_seconds",
            "Streams: time from the request's arrival to the first event relayed, by model.",
            ["model"],
            buckets=_TTFT_BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "inferstack_gateway_fallbacks",
            "Requests served by a fallback model, by requested and serving model.",
            ["model", "fallback_model"],
            registry=r,
        )
        self.rejected = Counter(
            "inferstack_gateway_rejected", "Requests refused before routing, by reason code.", ["reason"], registry=r
        )
        self.guardrail_hits = Counter(
            "inferstack_gateway_guardrail_hits",
            "Guardrail interventions by guardrail and action.",
            ["guardrail", "action"],
            registry=r,
        )
        self.bounded_size = Gauge(
            "inferstack_gateway_bounded_size",
            "Current size of each bounded queue or cache in the gateway.",
            ["name"],
            registry=r,
        )
        self.bounded_limit = Gauge(
            "inferstack_gateway_bounded_limit",
            "The bound of each queue or cache (what happens when full is in docs/gateway.md).",
            ["name"],
            registry=r,
        )
        self.usage_rows_dropped = Gauge(
            "inferstack_gateway_usage_rows_dropped",
            "Per-request spend_logs rows not kept since start because the pending-row bound was reached "
            "(their spend and tokens are still in usage_totals).",
            registry=r,
        )

        self.dependency_up = Gauge(
            "inferstack_gateway_dependency_up",
            "1 while an external dependency answers, 0 while the gateway runs without it (database: keys held and "
            "spend kept in memory; cache: no response cache).",
            ["dependency"],
            registry=r,
        )

    def watch_deployments(self, deployments: Callable[[], Iterable[DeploymentView]]) -> None:
        """Each configured deployment's state, and the healthy deployments of each model, at scrape time."""
        self.registry.register(_DeploymentCollector(deployments))

    def watch_budgets(self, keys: Callable[[], Iterable[BudgetView]], limit: int = MAX_BUDGET_KEYS) -> None:
        """Remaining and maximum budget of the keys with a budget, at most `limit` of them (nearest spent first)."""
        self.registry.register(_BudgetCollector(keys, limit))

    def watch_bound(self, name: str, size: Callable[[], float], limit: float | None) -> None:
        """Report a queue's or cache's size at scrape time, and its bound (-1 when it has none in-process)."""
        self.bounded_size.labels(name).set_function(size)
        self.bounded_limit.labels(name).set(-1 if limit is None else limit)


class _DeploymentCollector(Collector):
    def __init__(self, deployments: Callable[[], Iterable[DeploymentView]]) -> None:
        self._deployments = deployments

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = GaugeMetricFamily(
            "inferstack_gateway_deployment_state",
            "Deployment state: 0 healthy, 1 failing its health check, 2 cooling down after failures.",
            labels=["deployment", "model"],
        )
        healthy = GaugeMetricFamily(
            "inferstack_gateway_healthy_deployments",
            "Deployments of each model that are healthy and not cooling down (0: the model cannot be served).",
            labels=["model"],
        )
        counts: dict[str, int] = {}
        for view in self._deployments():
            state.add_metric([view.deployment, view.model], view.state)
            counts[view.model] = counts.get(view.model, 0) + (view.state == STATE_HEALTHY)
        for model, count in counts.items():
            healthy.add_metric([model], count)
        yield state
        yield healthy


class _BudgetCollector(Collector):
    def __init__(self, keys: Callable[[], Iterable[BudgetView]], limit: int) -> None:
        self._keys = keys
        self._limit = limit

    def collect(self) -> Iterator[GaugeMetricFamily]:
        remaining = GaugeMetricFamily(
            "inferstack_gateway_key_remaining_budget_usd",
            "Budget left to a key in this budget period (keys with a budget; nearest spent first, capped).",
            labels=["key"],
        )
        maximum = GaugeMetricFamily(
            "inferstack_gateway_key_max_budget_usd", "A key's budget per period (keys with a budget).", labels=["key"]
        )
        views = sorted(self._keys(), key=lambda v: v.max_budget - v.spend)[: self._limit]
        for view in views:
            remaining.add_metric([view.key], max(0.0, view.max_budget - view.spend))
            maximum.add_metric([view.key], view.max_budget)
        yield remaining
        yield maximum
