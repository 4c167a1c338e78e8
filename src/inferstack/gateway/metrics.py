"""The gateway's Prometheus metrics, on their own registry (one per app instance)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


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
        self.in_flight = Gauge("inferstack_gateway_in_flight", "Requests in flight through the gateway.", registry=r)
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

    def watch_bound(self, name: str, size: Callable[[], float], limit: float | None) -> None:
        """Report a queue's or cache's size at scrape time, and its bound (-1 when it has none in-process)."""
        self.bounded_size.labels(name).set_function(size)
        self.bounded_limit.labels(name).set(-1 if limit is None else limit)
