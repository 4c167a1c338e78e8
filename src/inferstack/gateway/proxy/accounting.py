"""What a finished request costs and who pays: key spend and TPM, deployment TPM, metrics, and the usage row.

Every request that reached routing is recorded exactly once (`ProxyCall.recorded`), whatever its status.
"""

from __future__ import annotations

from typing import Any

from inferstack.gateway.keys.records import UsageRecord
from inferstack.gateway.keys.registry import KeyRegistry
from inferstack.gateway.metrics import GatewayMetrics
from inferstack.gateway.proxy.call import ProxyCall
from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.routing.router import Router
from inferstack.gateway.usage_writer import UsageWriter

_MAX_CACHED_CHILDREN = 1024  # model names of refused requests come from clients: keep this bounded


class UsageAccounting:
    def __init__(self, *, registry: KeyRegistry, router: Router, usage: UsageWriter, metrics: GatewayMetrics) -> None:
        self.registry = registry
        self.router = router
        self.usage = usage
        self.metrics = metrics
        # Labelled metric children, looked up once per label set (`labels()` costs a lock and a dict build).
        self._request_counters: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[str, Any] = {}

    def record(
        self, call: ProxyCall, deployment: Deployment | None, status: int, usage: dict[str, Any], *, cache_hit: bool
    ) -> None:
        call.recorded = True
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        spend = 0.0
        if deployment is not None and not cache_hit:
            config = deployment.config
            spend = prompt * config.input_cost_per_token + completion * config.output_cost_per_token
            self.router.count_tokens(deployment, prompt + completion)
        self.registry.charge(call.key, prompt + completion, spend)
        elapsed = call.elapsed_s()
        deployment_id = deployment.id if deployment is not None else ("cache" if cache_hit else "none")
        self._observe(call.model, deployment_id, status, elapsed, elapsed - call.upstream_s)
        m = self.metrics
        if prompt:
            m.tokens.labels(call.model, "prompt").inc(prompt)
        if completion:
            m.tokens.labels(call.model, "completion").inc(completion)
        if spend:
            m.spend.labels(call.model).inc(spend)
        self.usage.add(
            UsageRecord(
                request_id=call.request_id,
                token=call.key.token,
                model=call.model,
                deployment=deployment.id if deployment is not None else None,
                prompt_tokens=prompt,
                completion_tokens=completion,
                spend=spend,
                cache_hit=cache_hit,
                status=status,
                started_at=call.started_wall,
                duration_ms=elapsed * 1000,
            )
        )

    def _observe(self, model: str, deployment_id: str, status: int, elapsed_s: float, overhead_s: float) -> None:
        counter_key = (model, deployment_id, status)
        counter = self._request_counters.get(counter_key)
        if counter is None:
            counter = self.metrics.requests.labels(model, deployment_id, str(status))
            if len(self._request_counters) < _MAX_CACHED_CHILDREN:
                self._request_counters[counter_key] = counter
        counter.inc()
        latency = self._latencies.get(model)
        if latency is None:
            latency = self.metrics.latency.labels(model)
            if len(self._latencies) < _MAX_CACHED_CHILDREN:
                self._latencies[model] = latency
        latency.observe(elapsed_s)
        self.metrics.overhead.observe(max(0.0, overhead_s))
