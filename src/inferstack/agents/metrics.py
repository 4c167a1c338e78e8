"""Prometheus metrics of the agent API, in a registry of its own (one per app instance)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "inferstack_agent_requests", "HTTP requests by route and status code", ["route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "inferstack_agent_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.queries = Counter(
            "inferstack_agent_queries",
            "Queries by answer route (knowledge, web, hybrid, none) and outcome",
            ["route", "outcome"],
            registry=r,
        )
        self.stage_seconds = Histogram(
            "inferstack_agent_stage_duration_seconds",
            "Time per query stage (retrieval, grading, web_search, generation, total)",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.queries_in_flight = Gauge("inferstack_agent_queries_in_flight", "Queries being answered", registry=r)
        self.web_search_failures = Counter(
            "inferstack_agent_web_search_failures", "Web searches that found the server unavailable", registry=r
        )
        self.sessions = Gauge("inferstack_agent_sessions", "Conversation sessions held in memory", registry=r)
        self.ingest_jobs = Counter(
            "inferstack_agent_ingest_jobs", "Ingest jobs by final status", ["status"], registry=r
        )
        self.ingest_jobs_running = Gauge("inferstack_agent_ingest_jobs_running", "Ingest jobs running", registry=r)
        self.ingest_jobs_unfinished = Gauge(
            "inferstack_agent_ingest_jobs_unfinished",
            "Ingest jobs queued or running (refused past the bound)",
            registry=r,
        )
        self.bounded_limit = Gauge(
            "inferstack_agent_bounded_limit", "The bound of each queue or cache in the agent", ["name"], registry=r
        )

    def observe_timings(self, timings: dict[str, float], stages: Sequence[str]) -> None:
        """Observe `<stage>_ms` for each of `stages` that ran (a stage that did not run reports 0)."""
        for stage in stages:
            value = timings.get(f"{stage}_ms", 0.0)
            if value > 0:
                self.stage_seconds.labels(stage).observe(value / 1000.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
