"""Prometheus metrics of the model server, in a registry of its own (one per app instance): the inferstack_*
families and the same figures under vLLM's names (`vllm_metrics.VllmCompatMetrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from inferstack.observability.vllm_metrics import VllmCompatMetrics

_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
)


class ServingMetrics:
    def __init__(self, model_name: str) -> None:
        """`model_name` is the served (generation) model's public name, the `model_name` label of `vllm:*`."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "inferstack_requests", "HTTP requests by route and status code", ["route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "inferstack_request_duration_seconds",
            "End-to-end request latency",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.prompt_tokens = Counter("inferstack_prompt_tokens", "Prompt tokens processed", registry=r)
        self.completion_tokens = Counter("inferstack_completion_tokens", "Completion tokens generated", registry=r)
        self.embedding_inputs = Counter("inferstack_embedding_inputs", "Texts embedded", registry=r)
        self.ttft_seconds = Histogram(
            "inferstack_time_to_first_token_seconds",
            "Time from admission to the first generated token",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.itl_seconds = Histogram(
            "inferstack_inter_token_latency_seconds",
            "Time between consecutive generated chunks",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.slots_total = Gauge("inferstack_slots_total", "Parallel generation slots", registry=r)
        self.slots_busy = Gauge("inferstack_slots_busy", "Slots generating now", registry=r)
        self.queue_depth = Gauge("inferstack_queue_depth", "Requests admitted and waiting for a slot", registry=r)
        self.rejected = Counter(
            "inferstack_rejected_requests",
            "Requests turned away because slots and queue were full",
            registry=r,
        )
        self.cancelled = Counter(
            "inferstack_cancelled_generations", "Generations stopped because the client went away", registry=r
        )

        self.vllm = VllmCompatMetrics(r, model_name)

    def publish_occupancy(self, running: int, waiting: int) -> None:
        """Slots generating and requests admitted behind them, under both names."""
        self.slots_busy.set(running)
        self.queue_depth.set(waiting)
        self.vllm.running.set(running)
        self.vllm.waiting.set(waiting)

    def render(self) -> bytes:
        return generate_latest(self.registry)
