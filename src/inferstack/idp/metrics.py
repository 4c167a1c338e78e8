"""Prometheus metrics of the IDP service, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.responses import Response

from inferstack.idp.records import JobResult

_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


class IdpMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "inferstack_idp_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "inferstack_idp_request_duration_seconds", "HTTP latency", ["route"], buckets=_BUCKETS, registry=r
        )
        self.documents = Counter(
            "inferstack_idp_documents", "Processed documents by schema and outcome", ["schema", "status"], registry=r
        )
        self.stage_seconds = Histogram(
            "inferstack_idp_stage_duration_seconds", "Time per pipeline stage", ["stage"], buckets=_BUCKETS, registry=r
        )
        self.reviews = Counter("inferstack_idp_review_decisions", "Review decisions", ["decision"], registry=r)
        self.claims = Counter(
            "inferstack_idp_job_claims",
            "Jobs claimed by this process; attempt 'retry' is a job whose earlier holder stopped (lease ran out)",
            ["attempt"],
            registry=r,
        )
        self.released = Counter(
            "inferstack_idp_jobs_released", "Jobs handed back unfinished at shutdown (drain_s ran out)", registry=r
        )
        self.recovered = Counter(
            "inferstack_idp_jobs_recovered",
            "Jobs queued again at start because an earlier run of this instance died holding them (no lease wait)",
            registry=r,
        )

    def observe(self, result: JobResult) -> None:
        self.documents.labels(result.schema, result.status).inc()
        for record in result.audit:
            self.stage_seconds.labels(record.stage).observe(record.seconds)

    def response(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
