"""The model server's metrics under vLLM's names (`vllm:*`, label `model_name`), whatever the engine.

Dashboards, KEDA triggers and routers written for vLLM read these unchanged on llama.cpp. The buckets are
vLLM's own (vllm/v1/metrics/loggers.py). `model_name` is the one served model name from the configuration,
bound once here, so the label set is fixed by the config and never by a request.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
ITL_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
)
REQUEST_LATENCY_BUCKETS = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)
# vLLM's finished_reason values; anything else an engine reports is counted as "stop" (bounded label).
FINISHED_REASONS = ("stop", "length", "abort")


class VllmCompatMetrics:
    """vLLM's serving metrics for one served model, fed by admission and the metered generation loop."""

    def __init__(self, registry: CollectorRegistry, model_name: str) -> None:
        r, labels, m = registry, ["model_name"], model_name
        self.model_name = model_name
        self.running = Gauge(
            "vllm:num_requests_running", "Number of requests in model execution batches.", labels, registry=r
        ).labels(m)
        self.waiting = Gauge(
            "vllm:num_requests_waiting", "Number of requests waiting to be processed.", labels, registry=r
        ).labels(m)
        self.kv_cache_usage = Gauge(
            "vllm:kv_cache_usage_perc",
            "KV-cache usage. 1 means 100 percent usage (here: tokens held by generating requests over "
            "context length x slots).",
            labels,
            registry=r,
        ).labels(m)
        self.prompt_tokens = Counter(
            "vllm:prompt_tokens", "Number of prefill tokens processed.", labels, registry=r
        ).labels(m)
        self.generation_tokens = Counter(
            "vllm:generation_tokens", "Number of generation tokens processed.", labels, registry=r
        ).labels(m)
        success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            [*labels, "finished_reason"],
            registry=r,
        )
        self._success = {reason: success.labels(m, reason) for reason in FINISHED_REASONS}
        self.ttft = Histogram(
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            labels,
            buckets=TTFT_BUCKETS,
            registry=r,
        ).labels(m)
        self.itl = Histogram(
            "vllm:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
            labels,
            buckets=ITL_BUCKETS,
            registry=r,
        ).labels(m)
        self.e2e = Histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            labels,
            buckets=REQUEST_LATENCY_BUCKETS,
            registry=r,
        ).labels(m)
        self._kv_capacity = 0
        self._kv_held = 0

    def set_kv_capacity(self, tokens: int) -> None:
        """Cells in the KV cache: the context of one slot times the slots (llama.cpp splits n_ctx this way)."""
        self._kv_capacity = max(0, tokens)
        self._publish_kv()

    def hold_kv(self, tokens: int) -> None:
        """A generating request took (positive) or gave back (negative) `tokens` KV cells."""
        self._kv_held = max(0, self._kv_held + tokens)
        self._publish_kv()

    def finished(self, reason: str) -> None:
        self._success.get(reason, self._success["stop"]).inc()

    def _publish_kv(self) -> None:
        usage = self._kv_held / self._kv_capacity if self._kv_capacity else 0.0
        self.kv_cache_usage.set(min(1.0, usage))
